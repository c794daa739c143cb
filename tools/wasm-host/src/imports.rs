//! The proxy-wasm ABI 0.2.1 host calls (`env` module): every call the filter imports, with
//! Envoy's answers, plus the rest of the ABI's calls as stubs, so that a module importing one
//! (the SDK-built module imported them all) still links and meets the mode's answer when it
//! calls it. Each call first asks the mode whether it refuses ([`State::refusal`]).
//!
//! A buffer handed to the module is allocated through its `proxy_on_memory_allocate`, as a
//! real host does. A pointer from the module that leaves its memory traps, as in Envoy.

use proxy_wasm_abi::map;
use wasmtime::{format_err, Caller, Extern, Linker, Memory, Result};

use crate::state::{
    Callout, Reply, State, BAD_ARGUMENT, CAS_MISMATCH, NOT_FOUND, OK, UNIMPLEMENTED,
};

type C<'a> = Caller<'a, State>;

/// `proxy_map_type_t` values the host knows.
const REQUEST_HEADERS: u32 = 0;
const CALL_RESPONSE_HEADERS: u32 = 6;
/// `proxy_buffer_type_t` values the host knows.
const CALL_RESPONSE_BODY: u32 = 4;
const VM_CONFIGURATION: u32 = 6;
const PLUGIN_CONFIGURATION: u32 = 7;

pub fn link(linker: &mut Linker<State>) -> Result<()> {
    linker.func_wrap(
        "env",
        "proxy_log",
        |mut c: C, level: u32, ptr: u32, len: u32| {
            if let Some(status) = refused(&mut c, "proxy_log")? {
                return Ok(status);
            }
            let message = read(&mut c, ptr, len)?;
            let line = format!(
                "{}: {}",
                level_name(level),
                String::from_utf8_lossy(&message)
            );
            c.data_mut().log.push(line);
            Ok(OK)
        },
    )?;
    linker.func_wrap("env", "proxy_get_log_level", |mut c: C, out: u32| {
        if let Some(status) = refused(&mut c, "proxy_get_log_level")? {
            return Ok(status);
        }
        write(&mut c, out, &2u32.to_le_bytes())?; // info
        Ok(OK)
    })?;
    linker.func_wrap(
        "env",
        "proxy_get_current_time_nanoseconds",
        |mut c: C, out: u32| {
            if let Some(status) = refused(&mut c, "proxy_get_current_time_nanoseconds")? {
                return Ok(status);
            }
            let ns = c.data().clock_ms.saturating_mul(1_000_000);
            write(&mut c, out, &ns.to_le_bytes())?;
            Ok(OK)
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_set_tick_period_milliseconds",
        |mut c: C, period: u32| {
            if let Some(status) = refused(&mut c, "proxy_set_tick_period_milliseconds")? {
                return Ok(status);
            }
            let state = c.data_mut();
            if state.kong() && period != 0 && state.tick_period_ms != 0 {
                return Err(format_err!("host trap: tick_period already set"));
            }
            state.tick_period_ms = period;
            Ok(OK)
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_get_buffer_bytes",
        |mut c: C, kind: u32, start: u32, max: u32, out_data: u32, out_size: u32| {
            if let Some(status) = refused(&mut c, "proxy_get_buffer_bytes")? {
                return Ok(status);
            }
            let state = c.data();
            let buffer = match kind {
                VM_CONFIGURATION => state.vm_config.clone(),
                PLUGIN_CONFIGURATION => state.plugin_config.clone(),
                CALL_RESPONSE_BODY => match &state.answering {
                    Some(upstream) => upstream.body.clone(),
                    None => return Ok(NOT_FOUND),
                },
                _ => return Ok(BAD_ARGUMENT),
            };
            let start = usize::try_from(start)?.min(buffer.len());
            let end = start
                .saturating_add(usize::try_from(max)?)
                .min(buffer.len());
            let slice = buffer.get(start..end).unwrap_or_default().to_vec();
            give(&mut c, &slice, out_data, out_size)?;
            Ok(OK)
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_get_header_map_pairs",
        |mut c: C, kind: u32, out_data: u32, out_size: u32| {
            if let Some(status) = refused(&mut c, "proxy_get_header_map_pairs")? {
                return Ok(status);
            }
            let Some(pairs) = header_map(c.data_mut(), kind) else {
                return Ok(NOT_FOUND);
            };
            let pairs: Vec<(&str, &[u8])> = pairs
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_slice()))
                .collect();
            give(&mut c, &map::serialize(&pairs), out_data, out_size)?;
            Ok(OK)
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_get_header_map_value",
        |mut c: C, kind: u32, key: u32, key_len: u32, out_data: u32, out_size: u32| {
            if let Some(status) = refused(&mut c, "proxy_get_header_map_value")? {
                return Ok(status);
            }
            let name = text(read(&mut c, key, key_len)?)?;
            let Some(pairs) = header_map(c.data_mut(), kind) else {
                return Ok(NOT_FOUND);
            };
            let Some((_, value)) = pairs.into_iter().find(|(n, _)| *n == name) else {
                return Ok(NOT_FOUND);
            };
            give(&mut c, &value, out_data, out_size)?;
            Ok(OK)
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_add_header_map_value",
        |mut c: C, kind: u32, key: u32, key_len: u32, value: u32, value_len: u32| {
            if let Some(status) = refused(&mut c, "proxy_add_header_map_value")? {
                return Ok(status);
            }
            let name = text(read(&mut c, key, key_len)?)?;
            let value = read(&mut c, value, value_len)?;
            match c.data_mut().request() {
                Some(request) if kind == REQUEST_HEADERS => {
                    request.headers.push((name, value));
                    Ok(OK)
                }
                _ => Ok(BAD_ARGUMENT),
            }
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_replace_header_map_value",
        |mut c: C, kind: u32, key: u32, key_len: u32, value: u32, value_len: u32| {
            if let Some(status) = refused(&mut c, "proxy_replace_header_map_value")? {
                return Ok(status);
            }
            let name = text(read(&mut c, key, key_len)?)?;
            let value = read(&mut c, value, value_len)?;
            match c.data_mut().request() {
                Some(request) if kind == REQUEST_HEADERS => {
                    request.headers.retain(|(n, _)| *n != name);
                    request.headers.push((name, value));
                    Ok(OK)
                }
                _ => Ok(BAD_ARGUMENT),
            }
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_remove_header_map_value",
        |mut c: C, kind: u32, key: u32, key_len: u32| {
            if let Some(status) = refused(&mut c, "proxy_remove_header_map_value")? {
                return Ok(status);
            }
            let name = text(read(&mut c, key, key_len)?)?;
            match c.data_mut().request() {
                Some(request) if kind == REQUEST_HEADERS => {
                    request.headers.retain(|(n, _)| *n != name);
                    Ok(OK)
                }
                _ => Ok(BAD_ARGUMENT),
            }
        },
    )?;
    // No property is known: Envoy's `xds.route_name` is "not found" here, as on a host
    // without Envoy's attributes.
    linker.func_wrap(
        "env",
        "proxy_get_property",
        |mut c: C, _path: u32, _path_len: u32, _out_data: u32, _out_size: u32| {
            if let Some(status) = refused(&mut c, "proxy_get_property")? {
                return Ok(status);
            }
            Ok(NOT_FOUND)
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_get_shared_data",
        |mut c: C, key: u32, key_len: u32, out_data: u32, out_size: u32, out_cas: u32| {
            if let Some(status) = refused(&mut c, "proxy_get_shared_data")? {
                return Ok(status);
            }
            let key = text(read(&mut c, key, key_len)?)?;
            let Some((value, cas)) = c.data().shared.get(&key).cloned() else {
                return Ok(NOT_FOUND);
            };
            give(&mut c, &value, out_data, out_size)?;
            write(&mut c, out_cas, &cas.to_le_bytes())?;
            Ok(OK)
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_set_shared_data",
        |mut c: C, key: u32, key_len: u32, value: u32, value_len: u32, cas: u32| {
            if let Some(status) = refused(&mut c, "proxy_set_shared_data")? {
                return Ok(status);
            }
            let key = text(read(&mut c, key, key_len)?)?;
            let value = read(&mut c, value, value_len)?;
            let state = c.data_mut();
            if cas != 0 && state.shared.get(&key).map(|(_, current)| *current) != Some(cas) {
                return Ok(CAS_MISMATCH);
            }
            let next = state.next_cas;
            state.next_cas = next.wrapping_add(1).max(1);
            state.shared.insert(key, (value, next));
            Ok(OK)
        },
    )?;
    linker.func_wrap("env", "proxy_continue_stream", |mut c: C, stream: u32| {
        if let Some(status) = refused(&mut c, "proxy_continue_stream")? {
            return Ok(status);
        }
        match c.data_mut().request() {
            Some(request) if stream == 0 => {
                request.continued = true;
                Ok(OK)
            }
            _ => Ok(BAD_ARGUMENT),
        }
    })?;
    linker.func_wrap(
        "env",
        "proxy_send_local_response",
        |mut c: C,
         status: u32,
         _details: u32,
         _details_len: u32,
         body: u32,
         body_len: u32,
         headers: u32,
         headers_len: u32,
         _grpc: i32| {
            if let Some(answer) = refused(&mut c, "proxy_send_local_response")? {
                return Ok(answer);
            }
            let body = read(&mut c, body, body_len)?;
            let headers = read(&mut c, headers, headers_len)?;
            let headers = map::deserialize(&headers)
                .ok_or_else(|| format_err!("proxy_send_local_response: malformed headers"))?;
            let kong = c.data().kong();
            let Some(request) = c.data_mut().request() else {
                return Ok(BAD_ARGUMENT);
            };
            if request.reply.is_some() && kong {
                return Err(format_err!(
                    "host trap (bad usage): local response already stashed"
                ));
            }
            request.reply = Some(Reply {
                status,
                headers: headers
                    .into_iter()
                    .map(|(n, v)| (n, String::from_utf8_lossy(&v).into_owned()))
                    .collect(),
                body: String::from_utf8_lossy(&body).into_owned(),
            });
            Ok(OK)
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_http_call",
        |mut c: C,
         upstream: u32,
         upstream_len: u32,
         headers: u32,
         headers_len: u32,
         _body: u32,
         _body_len: u32,
         _trailers: u32,
         _trailers_len: u32,
         _timeout: u32,
         out_token: u32| {
            if let Some(status) = refused(&mut c, "proxy_http_call")? {
                return Ok(status);
            }
            let upstream = text(read(&mut c, upstream, upstream_len)?)?;
            let headers = read(&mut c, headers, headers_len)?;
            let headers = map::deserialize(&headers)
                .ok_or_else(|| format_err!("proxy_http_call: malformed headers"))?;
            let state = c.data_mut();
            let token = state.next_token;
            state.next_token += 1;
            state.callouts.push(Callout {
                token,
                upstream,
                headers: headers
                    .into_iter()
                    .map(|(n, v)| (n, String::from_utf8_lossy(&v).into_owned()))
                    .collect(),
            });
            write(&mut c, out_token, &token.to_le_bytes())?;
            Ok(OK)
        },
    )?;
    linker.func_wrap("env", "proxy_set_effective_context", |mut c: C, id: u32| {
        if let Some(status) = refused(&mut c, "proxy_set_effective_context")? {
            return Ok(status);
        }
        let state = c.data_mut();
        if id == crate::ROOT || state.requests.contains_key(&id) {
            state.effective = id;
            Ok(OK)
        } else {
            Ok(BAD_ARGUMENT)
        }
    })?;
    linker.func_wrap(
        "env",
        "proxy_define_metric",
        |mut c: C, _kind: u32, name: u32, name_len: u32, out_id: u32| {
            if let Some(status) = refused(&mut c, "proxy_define_metric")? {
                return Ok(status);
            }
            let name = text(read(&mut c, name, name_len)?)?;
            if c.data().kong() && name.len() + "pw:jwt_authn:".len() > 256 {
                return Err(format_err!(
                    "could not define metric: name \"{name}\" too long"
                ));
            }
            let id = c.data_mut().define_metric(&name);
            write(&mut c, out_id, &id.to_le_bytes())?;
            Ok(OK)
        },
    )?;
    linker.func_wrap("env", "proxy_get_metric", |mut c: C, id: u32, out: u32| {
        if let Some(status) = refused(&mut c, "proxy_get_metric")? {
            return Ok(status);
        }
        let Some(value) = c.data_mut().metric_value(id).map(|v| *v) else {
            return Ok(NOT_FOUND);
        };
        write(&mut c, out, &value.to_le_bytes())?;
        Ok(OK)
    })?;
    linker.func_wrap(
        "env",
        "proxy_record_metric",
        |mut c: C, id: u32, value: u64| {
            if let Some(status) = refused(&mut c, "proxy_record_metric")? {
                return Ok(status);
            }
            match c.data_mut().metric_value(id) {
                Some(slot) => {
                    *slot = value;
                    Ok(OK)
                }
                None => Ok(NOT_FOUND),
            }
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_increment_metric",
        |mut c: C, id: u32, by: i64| {
            if let Some(status) = refused(&mut c, "proxy_increment_metric")? {
                return Ok(status);
            }
            match c.data_mut().metric_value(id) {
                Some(slot) => {
                    *slot = slot.saturating_add_signed(by);
                    Ok(OK)
                }
                None => Ok(NOT_FOUND),
            }
        },
    )?;
    link_unused(linker)
}

/// Calls the filter never makes, present so that a module importing them (the SDK-built module
/// imported every call of the ABI) links. They do nothing here: `UNIMPLEMENTED`, unless the
/// mode refuses otherwise (Kong's trap for those it leaves out). `proxy_get_log_level` is
/// linked above with an answer.
const UNUSED: &[(&str, usize)] = &[
    ("proxy_done", 0),
    ("proxy_resume_downstream", 0),
    ("proxy_resume_upstream", 0),
    ("proxy_continue_response", 0),
    ("proxy_close_stream", 1),
    ("proxy_grpc_cancel", 1),
    ("proxy_grpc_close", 1),
    ("proxy_get_status", 3),
    ("proxy_set_header_map_pairs", 3),
    ("proxy_register_shared_queue", 3),
    ("proxy_dequeue_shared_queue", 3),
    ("proxy_enqueue_shared_queue", 3),
    ("proxy_grpc_send", 4),
    ("proxy_set_property", 4),
    ("proxy_set_buffer_bytes", 5),
    ("proxy_resolve_shared_queue", 5),
    ("proxy_call_foreign_function", 6),
    ("proxy_grpc_stream", 9),
    ("proxy_grpc_call", 12),
];

fn link_unused(linker: &mut Linker<State>) -> Result<()> {
    for (name, params) in UNUSED.iter().copied() {
        let ty = wasmtime::FuncType::new(
            linker.engine(),
            std::iter::repeat_n(wasmtime::ValType::I32, params),
            [wasmtime::ValType::I32],
        );
        linker.func_new("env", name, ty, move |mut c, _params, results| {
            let status = refused(&mut c, name)?.unwrap_or(UNIMPLEMENTED);
            if let Some(result) = results.first_mut() {
                *result = wasmtime::Val::I32(i32::try_from(status).unwrap_or(i32::MAX));
            }
            Ok(())
        })?;
    }
    Ok(())
}

/// The mode's refusal of `call`, if any (`Err`: the host traps).
fn refused(c: &mut C, call: &'static str) -> Result<Option<u32>> {
    c.data_mut().refusal(call).map_err(|e| format_err!("{e}"))
}

/// The header map `kind` of the effective context, or of the callout being answered.
fn header_map(state: &mut State, kind: u32) -> Option<Vec<(String, Vec<u8>)>> {
    match kind {
        REQUEST_HEADERS => state.request().map(|r| r.headers.clone()),
        CALL_RESPONSE_HEADERS => state.answering.as_ref().map(|up| {
            std::iter::once((":status".to_string(), up.status.to_string().into_bytes()))
                .chain(
                    up.headers
                        .iter()
                        .map(|(n, v)| (n.clone(), v.clone().into_bytes())),
                )
                .collect()
        }),
        _ => None,
    }
}

fn level_name(level: u32) -> &'static str {
    match level {
        0 => "trace",
        1 => "debug",
        2 => "info",
        3 => "warn",
        4 => "error",
        5 => "critical",
        _ => "level?",
    }
}

fn memory(c: &mut C) -> Result<Memory> {
    c.get_export("memory")
        .and_then(Extern::into_memory)
        .ok_or_else(|| format_err!("the module exports no memory"))
}

/// `len` bytes of the module's memory at `ptr`; a range outside it traps.
pub(crate) fn read(c: &mut C, ptr: u32, len: u32) -> Result<Vec<u8>> {
    let memory = memory(c)?;
    let start = usize::try_from(ptr)?;
    let end = start
        .checked_add(usize::try_from(len)?)
        .ok_or_else(|| format_err!("pointer overflow"))?;
    memory
        .data(&*c)
        .get(start..end)
        .map(<[u8]>::to_vec)
        .ok_or_else(|| format_err!("out of bounds read at {ptr} ({len} bytes)"))
}

/// Writes `bytes` into the module's memory at `ptr`; a range outside it traps.
pub(crate) fn write(c: &mut C, ptr: u32, bytes: &[u8]) -> Result<()> {
    let memory = memory(c)?;
    memory
        .write(&mut *c, usize::try_from(ptr)?, bytes)
        .map_err(|_| format_err!("out of bounds write at {ptr} ({} bytes)", bytes.len()))
}

/// Hands `bytes` to the module: a buffer from its `proxy_on_memory_allocate`, its address
/// and size written at `out_data` and `out_size`.
fn give(c: &mut C, bytes: &[u8], out_data: u32, out_size: u32) -> Result<()> {
    let allocate = c
        .get_export("proxy_on_memory_allocate")
        .and_then(Extern::into_func)
        .ok_or_else(|| format_err!("the module exports no proxy_on_memory_allocate"))?
        .typed::<u32, u32>(&*c)?;
    let size = u32::try_from(bytes.len())?;
    let ptr = allocate.call(&mut *c, size)?;
    if ptr == 0 {
        return Err(format_err!("proxy_on_memory_allocate({size}) gave null"));
    }
    write(c, ptr, bytes)?;
    write(c, out_data, &ptr.to_le_bytes())?;
    write(c, out_size, &size.to_le_bytes())
}

fn text(bytes: Vec<u8>) -> Result<String> {
    String::from_utf8(bytes).map_err(|_| format_err!("a name that is not UTF-8"))
}
