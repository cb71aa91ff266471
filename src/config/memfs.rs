//! The two [`FileSystem`] implementations: [`MemoryFs`] for tests and [`RealFs`], the one
//! place in `config` that touches the disk (used only by `cli`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::FileSystem;

/// Files held in memory, keyed by path.
#[derive(Clone, Debug, Default)]
pub struct MemoryFs {
    files: BTreeMap<PathBuf, Vec<u8>>,
}

impl MemoryFs {
    pub fn new() -> MemoryFs {
        MemoryFs::default()
    }
    pub fn with(mut self, path: impl Into<PathBuf>, content: impl Into<Vec<u8>>) -> MemoryFs {
        self.insert(path, content);
        self
    }
    pub fn insert(&mut self, path: impl Into<PathBuf>, content: impl Into<Vec<u8>>) {
        self.files.insert(path.into(), content.into());
    }
}

fn is_hcl(p: &Path) -> bool {
    p.extension().is_some_and(|e| e == "hcl")
}

impl FileSystem for MemoryFs {
    fn list_files(&self, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
        Ok(self
            .files
            .keys()
            .filter(|p| p.parent() == Some(dir))
            .cloned()
            .collect())
    }
    fn list_hcl_files(&self, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
        let found: Vec<PathBuf> = self
            .files
            .keys()
            .filter(|p| p.parent() == Some(dir) && is_hcl(p))
            .cloned()
            .collect();
        let dir_exists = self.files.keys().any(|p| p.starts_with(dir));
        if !dir_exists {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("{} does not exist", dir.display()),
            ));
        }
        Ok(found)
    }
    fn read(&self, path: &Path) -> std::io::Result<Vec<u8>> {
        self.files.get(path).cloned().ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("{} does not exist", path.display()),
            )
        })
    }
}

/// The real file system.
#[derive(Clone, Copy, Debug, Default)]
pub struct RealFs;

impl FileSystem for RealFs {
    fn list_files(&self, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            if entry.file_type()?.is_file() {
                out.push(entry.path());
            }
        }
        out.sort();
        Ok(out)
    }
    fn list_hcl_files(&self, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let p = entry.path();
            if is_hcl(&p) && entry.file_type()?.is_file() {
                out.push(p);
            }
        }
        out.sort();
        Ok(out)
    }
    /// Refuses a file longer than [`MAX_READ_BYTES`] (a remote state is read here).
    fn read(&self, path: &Path) -> std::io::Result<Vec<u8>> {
        let bytes = self.read_up_to(path, MAX_READ_BYTES)?;
        if bytes.len() > MAX_READ_BYTES {
            return Err(std::io::Error::other(format!(
                "it is larger than {} MiB, more than brick reads",
                MAX_READ_BYTES >> 20
            )));
        }
        Ok(bytes)
    }
    fn read_up_to(&self, path: &Path, limit: usize) -> std::io::Result<Vec<u8>> {
        use std::io::Read;
        let mut bytes = Vec::new();
        std::fs::File::open(path)?
            .take(limit as u64 + 1)
            .read_to_end(&mut bytes)?;
        Ok(bytes)
    }
}

/// The most [`RealFs::read`] reads of one file.
pub const MAX_READ_BYTES: usize = 1 << 30;
