//! The WASI preview1 calls a wasm32-wasip1 Rust module imports (`wasi_snapshot_preview1`),
//! stubbed as a proxy's sandbox serves them: no environment, output to the host's log, random
//! bytes from a fixed sequence (the filter only seeds hash maps with them), and `proc_exit` as
//! a trap (a module that exits is gone). Other WASI calls are not linked, so a build that
//! starts importing one fails to load here and the test says which.

use wasmtime::{format_err, Caller, Linker, Result};

use crate::imports::{read, write};
use crate::state::State;

/// `errno` success.
const ESUCCESS: u32 = 0;
/// `errno` for a bad file descriptor.
const EBADF: u32 = 8;

pub fn link(linker: &mut Linker<State>) -> Result<()> {
    const WASI: &str = "wasi_snapshot_preview1";
    linker.func_wrap(
        WASI,
        "environ_sizes_get",
        |mut c: Caller<'_, State>, count: u32, size: u32| {
            write(&mut c, count, &0u32.to_le_bytes())?;
            write(&mut c, size, &0u32.to_le_bytes())?;
            Ok(ESUCCESS)
        },
    )?;
    linker.func_wrap(
        WASI,
        "environ_get",
        |_: Caller<'_, State>, _: u32, _: u32| Ok(ESUCCESS),
    )?;
    linker.func_wrap(
        WASI,
        "random_get",
        |mut c: Caller<'_, State>, buf: u32, len: u32| {
            let bytes: Vec<u8> = (0..len)
                .map(|i| (i.wrapping_mul(151) ^ 0x5a) as u8)
                .collect();
            write(&mut c, buf, &bytes)?;
            Ok(ESUCCESS)
        },
    )?;
    linker.func_wrap(
        WASI,
        "fd_write",
        |mut c: Caller<'_, State>, fd: u32, iovs: u32, iovs_len: u32, written: u32| {
            if fd != 1 && fd != 2 {
                return Ok(EBADF);
            }
            let mut text = Vec::new();
            for i in 0..iovs_len {
                let iov = read(&mut c, iovs.wrapping_add(i.wrapping_mul(8)), 8)?;
                let word = |at: usize| -> Result<u32> {
                    let bytes = iov
                        .get(at..at + 4)
                        .ok_or_else(|| format_err!("short iovec"))?;
                    Ok(u32::from_le_bytes(bytes.try_into()?))
                };
                text.extend(read(&mut c, word(0)?, word(4)?)?);
            }
            let total = u32::try_from(text.len())?;
            let line = format!("fd {fd}: {}", String::from_utf8_lossy(&text).trim_end());
            c.data_mut().log.push(line);
            write(&mut c, written, &total.to_le_bytes())?;
            Ok(ESUCCESS)
        },
    )?;
    linker.func_wrap(
        WASI,
        "proc_exit",
        |_: Caller<'_, State>, code: u32| -> Result<()> { Err(format_err!("proc_exit({code})")) },
    )?;
    Ok(())
}
