// Compiles each .mdx file named on the command line with @mdx-js/mdx, after taking off the
// front matter as Astro does before MDX sees the body. Prints one line per file; exits 1 if
// any file fails to compile.
import { readFileSync } from "node:fs";
import { compile } from "@mdx-js/mdx";

let failed = 0;
for (const file of process.argv.slice(2)) {
  const text = readFileSync(file, "utf8").replace(/^---\n[\s\S]*?\n---\n/, "");
  try {
    await compile(text);
    console.log(`ok ${file}`);
  } catch (e) {
    failed += 1;
    console.log(`error ${file}: ${String(e.message || e).split("\n")[0]}`);
  }
}
process.exit(failed ? 1 : 0);
