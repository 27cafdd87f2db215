//! Every call into C: the crate's only `unsafe` code (the rest of the crate
//! says `deny(unsafe_code)`). Each function is a safe wrapper whose SAFETY
//! comment says why its call is sound.

#![allow(unsafe_code)]

use std::path::Path;

/// Swaps two paths in one step (Linux `renameat2(RENAME_EXCHANGE)`).
/// `Ok(false)` where the file system or kernel cannot (`EINVAL`,
/// `ENOSYS`) or on other systems: the caller then falls back to renames.
pub fn rename_exchange(a: &Path, b: &Path) -> std::io::Result<bool> {
    #[cfg(target_os = "linux")]
    {
        use std::ffi::CString;
        use std::os::unix::ffi::OsStrExt;
        let invalid = |e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e);
        let ca = CString::new(a.as_os_str().as_bytes()).map_err(invalid)?;
        let cb = CString::new(b.as_os_str().as_bytes()).map_err(invalid)?;
        // SAFETY: both are valid NUL-terminated paths that outlive the
        // call, which only reads them.
        let rc = unsafe {
            libc::renameat2(
                libc::AT_FDCWD,
                ca.as_ptr(),
                libc::AT_FDCWD,
                cb.as_ptr(),
                libc::RENAME_EXCHANGE,
            )
        };
        if rc == 0 {
            return Ok(true);
        }
        let err = std::io::Error::last_os_error();
        if matches!(err.raw_os_error(), Some(libc::EINVAL) | Some(libc::ENOSYS)) {
            return Ok(false);
        }
        Err(err)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (a, b);
        Ok(false)
    }
}

/// 4 KiB pages for this process: with transparent huge pages a 2 MiB page
/// stays resident while any of it is in use and is zeroed whole when first
/// touched (measured with mimalloc, which asks for them: ~40 MB more
/// resident when serving the Met burglaries, ~60 MB when ingesting).
/// Best effort: ignored where unsupported.
pub fn small_pages() {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_THP_DISABLE takes integer arguments only.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

/// Hands the allocator's free pages back to the OS (glibc `malloc_trim`;
/// a no-op elsewhere). `hotspots serve` calls it once the dataset is loaded
/// and the server's state has freed the frames: resident memory then
/// starts from what the collections hold.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim takes an integer and touches only the allocator's
    // own free lists.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Inflates `bytes` into `out` with libdeflate in one call when they are
/// exactly one gzip member of `isize` bytes inflated (the police.uk files);
/// false, with `out` in any state, for anything else (several members, a
/// size field that is wrong, corrupt data), which flate2 then reads or
/// reports on.
pub fn gunzip_one_member(bytes: &[u8], isize: usize, out: &mut Vec<u8>) -> bool {
    use libdeflate_sys::*;
    out.reserve(isize);
    let (mut used_in, mut used_out) = (0usize, 0usize);
    // SAFETY: libdeflate reads `bytes` and writes at most `isize` bytes to
    // `out`'s spare capacity, reserved above; `out`'s length is set only to
    // what it reports written, after a success.
    unsafe {
        let d = libdeflate_alloc_decompressor();
        if d.is_null() {
            return false;
        }
        let rc = libdeflate_gzip_decompress_ex(
            d,
            bytes.as_ptr().cast(),
            bytes.len(),
            out.as_mut_ptr().add(out.len()).cast(),
            isize,
            &mut used_in,
            &mut used_out,
        );
        libdeflate_free_decompressor(d);
        let whole = rc == libdeflate_result_LIBDEFLATE_SUCCESS && used_in == bytes.len() && used_out == isize;
        if whole {
            out.set_len(out.len() + used_out);
        }
        whole
    }
}
