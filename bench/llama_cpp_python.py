"""The llama.cpp side of bench/local_model.sh: the same prompt, sampling and token count as
`blogflow bench local-model`, through llama-cpp-python. Prints one JSON object per run."""
import json
import resource
import sys
import time

from llama_cpp import Llama


def main() -> None:
    model, prompt_file, tokens, threads, runs = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    prompt = open(prompt_file, encoding="utf-8").read()
    started = time.perf_counter()
    llm = Llama(model_path=model, n_ctx=2048, n_batch=512, n_threads=threads, n_threads_batch=threads, verbose=False)
    load_ms = (time.perf_counter() - started) * 1e3
    ids = llm.tokenize(prompt.encode("utf-8"), add_bos=False, special=True)
    for run in range(runs):
        llm.reset()
        llm.set_seed(1 + run)
        t0 = time.perf_counter()
        llm.eval(ids)
        t1 = time.perf_counter()
        for _ in range(tokens):
            token = llm.sample(top_k=40, top_p=0.9, temp=0.8, repeat_penalty=1.1)
            llm.eval([token])
        t2 = time.perf_counter()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps({"engine": "llama.cpp (llama-cpp-python)", "run": run, "load_ms": load_ms, "prompt_tokens": len(ids),
                          "prompt_tok_s": len(ids) / (t1 - t0), "gen_tokens": tokens, "gen_tok_s": tokens / (t2 - t1),
                          "peak_rss_mib": peak}), flush=True)


if __name__ == "__main__":
    main()
