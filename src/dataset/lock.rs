//! One writer per dataset: an exclusive lock on a file beside it.
//!
//! An ingest holds [`DatasetLock`] on `.NAME.lock` (in the directory that
//! holds the dataset `NAME`) from before it reads the previous dataset
//! until the new one is in place. A second ingest into the same `--out`
//! waits for the first to finish (it says so once on the terminal), then
//! runs on the dataset the first one wrote, as if the two had been started
//! one after the other. The lock is the operating system's advisory
//! whole-file lock (`flock` on Unix, `LockFileEx` on Windows): it is
//! released when the process ends however it ends, so a killed ingest
//! never leaves a lock behind. The lock file itself stays (removing it
//! would let a third ingest lock a different file of the same name).
//!
//! While the lock is held no other ingest writes beside the dataset, so
//! the temporary directories that [`super::write`] finds there belong to
//! ingests that are gone.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

use super::DatasetError;

/// An exclusive lock on a dataset directory, released on drop.
#[derive(Debug)]
pub struct DatasetLock {
    file: File,
    path: PathBuf,
}

impl DatasetLock {
    /// The lock file of the dataset at `dataset`: `.NAME.lock` beside it.
    pub fn path_for(dataset: &Path) -> Result<PathBuf, DatasetError> {
        let (parent, name) = super::write::parent_and_name(dataset)?;
        Ok(parent.join(format!(".{name}.lock")))
    }

    /// Takes the lock, waiting for another holder to release it. `on_wait`
    /// is called once, before waiting, with the lock file's path, so the
    /// caller can tell the user why nothing happens.
    pub fn acquire(dataset: &Path, on_wait: impl FnOnce(&Path)) -> Result<DatasetLock, DatasetError> {
        let path = Self::path_for(dataset)?;
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|source| DatasetError::Io {
                path: parent.display().to_string(),
                source,
            })?;
        }
        let io = |source| DatasetError::Io {
            path: path.display().to_string(),
            source,
        };
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                on_wait(&path);
                file.lock().map_err(io)?;
            }
            Err(TryLockError::Error(e)) => return Err(io(e)),
        }
        Ok(DatasetLock { file, path })
    }

    /// Takes the lock only if nobody holds it.
    pub fn try_acquire(dataset: &Path) -> Result<Option<DatasetLock>, DatasetError> {
        let mut waited = false;
        let path = Self::path_for(dataset)?;
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|source| DatasetError::Io {
                path: path.display().to_string(),
                source,
            })?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => waited = true,
            Err(TryLockError::Error(source)) => {
                return Err(DatasetError::Io {
                    path: path.display().to_string(),
                    source,
                })
            }
        }
        Ok((!waited).then_some(DatasetLock { file, path }))
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for DatasetLock {
    fn drop(&mut self) {
        let _ = self.file.unlock();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_waits_until_the_first_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let ds = dir.path().join("ds");
        let first = DatasetLock::acquire(&ds, |_| panic!("nobody holds it yet")).unwrap();
        assert_eq!(first.path(), dir.path().join(".ds.lock"));
        // Another open file description cannot take it meanwhile.
        assert!(DatasetLock::try_acquire(&ds).unwrap().is_none());
        let (tx, rx) = std::sync::mpsc::channel();
        let ds2 = ds.clone();
        let waiter = std::thread::spawn(move || {
            let mut told = false;
            let lock = DatasetLock::acquire(&ds2, |_| told = true).unwrap();
            tx.send(()).unwrap();
            (told, lock)
        });
        // Still waiting while the first holds it.
        assert!(rx.recv_timeout(std::time::Duration::from_millis(200)).is_err());
        drop(first);
        rx.recv_timeout(std::time::Duration::from_secs(10)).unwrap();
        let (told, second) = waiter.join().unwrap();
        assert!(told, "the waiter was told it waits");
        drop(second);
        assert!(DatasetLock::try_acquire(&ds).unwrap().is_some());
    }
}
