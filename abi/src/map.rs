//! The ABI's wire forms of header maps and property paths. A map is a little-endian `u32`
//! count, then a name size and a value size (`u32` each) per pair, then each name and value
//! followed by a NUL byte. A path is its parts joined by NUL bytes.
//!
//! The reader trusts nothing in a host's buffer: a count or a size that runs past the end is
//! a malformed map (`None`), never an index out of bounds; a name that is not UTF-8 is made
//! text with U+FFFD (the SDK unwraps it, and so traps).

/// Serializes header pairs as the ABI passes them to the host.
pub fn serialize(pairs: &[(&str, &[u8])]) -> Vec<u8> {
    let size = pairs.iter().fold(4, |size, (name, value)| {
        size + 8 + name.len() + 1 + value.len() + 1
    });
    let mut bytes = Vec::with_capacity(size);
    bytes.extend_from_slice(&len32(pairs.len()).to_le_bytes());
    for (name, value) in pairs {
        bytes.extend_from_slice(&len32(name.len()).to_le_bytes());
        bytes.extend_from_slice(&len32(value.len()).to_le_bytes());
    }
    for (name, value) in pairs {
        bytes.extend_from_slice(name.as_bytes());
        bytes.push(0);
        bytes.extend_from_slice(value);
        bytes.push(0);
    }
    bytes
}

/// A length as the ABI's `u32` (wasm32 sizes always fit; saturates elsewhere).
fn len32(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

/// Reads a serialized map: names as text, values as bytes; `None` when it is malformed. An
/// empty buffer is an empty map (hosts answer so for a map without entries).
pub fn deserialize(bytes: &[u8]) -> Option<Vec<(String, Vec<u8>)>> {
    deserialize_kept(bytes, &|_| true)
}

/// [`deserialize`], keeping only the pairs whose name (as bytes) `keep` accepts: the others are
/// checked for shape but never copied.
pub fn deserialize_kept(bytes: &[u8], keep: &dyn Fn(&[u8]) -> bool) -> Option<Vec<(String, Vec<u8>)>> {
    if bytes.is_empty() {
        return Some(Vec::new());
    }
    let count = usize::try_from(u32_at(bytes, 0)?).ok()?;
    // Each pair takes at least 10 bytes (two sizes, two NULs): a count past that is a lie,
    // and must not size an allocation.
    if count > bytes.len() / 10 {
        return None;
    }
    let mut pairs = Vec::new();
    let mut data = 4usize.checked_add(count.checked_mul(8)?)?;
    for n in 0..count {
        let sizes = 4 + n * 8;
        let name_len = usize::try_from(u32_at(bytes, sizes)?).ok()?;
        let value_len = usize::try_from(u32_at(bytes, sizes + 4)?).ok()?;
        let name = field(bytes, &mut data, name_len)?;
        let value = field(bytes, &mut data, value_len)?;
        if !keep(name) {
            continue;
        }
        if pairs.capacity() == 0 {
            pairs.reserve_exact(count - n);
        }
        let name = match std::str::from_utf8(name) {
            Ok(text) => text.to_owned(),
            Err(_) => String::from_utf8_lossy(name).into_owned(),
        };
        pairs.push((name, value.to_vec()));
    }
    Some(pairs)
}

/// The little-endian `u32` at `at`.
fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    let word = bytes.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes(word.try_into().ok()?))
}

/// The `len` bytes at `*at` and the NUL after them; moves `*at` past both.
fn field<'b>(bytes: &'b [u8], at: &mut usize, len: usize) -> Option<&'b [u8]> {
    let end = at.checked_add(len)?;
    let value = bytes.get(*at..end)?;
    if bytes.get(end) != Some(&0) {
        return None;
    }
    *at = end + 1;
    Some(value)
}

/// Serializes a property path (`["xds", "route_name"]`) as the ABI passes it.
pub fn path(parts: &[&str]) -> Vec<u8> {
    let mut bytes = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            bytes.push(0);
        }
        bytes.extend_from_slice(part.as_bytes());
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAIRS: &[(&str, &[u8])] = &[
        (":method", b"GET"),
        (":path", b"/bytes/1"),
        ("x-empty", b""),
    ];

    #[test]
    fn a_map_reads_back_as_written() {
        let bytes = serialize(PAIRS);
        let read = deserialize(&bytes).unwrap();
        let expected: Vec<(String, Vec<u8>)> = PAIRS
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_vec()))
            .collect();
        assert_eq!(read, expected);
    }

    #[test]
    fn kept_pairs_are_those_named_in_order_and_a_bad_map_is_still_refused() {
        let pairs: &[(&str, &[u8])] = &[("a", b"1"), ("b", b"2"), ("a", b"3"), ("c", b"")];
        let bytes = serialize(pairs);
        let keep_a = |name: &[u8]| name == b"a";
        assert_eq!(
            deserialize_kept(&bytes, &keep_a).unwrap(),
            vec![("a".to_string(), b"1".to_vec()), ("a".to_string(), b"3".to_vec())]
        );
        assert_eq!(deserialize_kept(&bytes, &|_| false), Some(Vec::new()));
        // A pair after the kept ones that runs past the end: the map is malformed, whatever
        // is kept.
        for len in 1..bytes.len() {
            assert_eq!(deserialize_kept(&bytes[..len], &keep_a), None, "truncated to {len}");
        }
    }

    #[test]
    fn the_wire_form_is_the_sdks() {
        // One pair, as the proxy-wasm SDK and Envoy lay it out.
        let bytes = serialize(&[("a", b"bc")]);
        assert_eq!(
            bytes,
            [1, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, b'a', 0, b'b', b'c', 0]
        );
    }

    #[test]
    fn an_empty_buffer_is_an_empty_map() {
        assert_eq!(deserialize(&[]), Some(Vec::new()));
        assert_eq!(deserialize(&serialize(&[])), Some(Vec::new()));
    }

    #[test]
    fn every_truncation_of_a_map_is_refused_without_a_panic() {
        let bytes = serialize(PAIRS);
        for len in 1..bytes.len() {
            assert_eq!(deserialize(&bytes[..len]), None, "truncated to {len}");
        }
    }

    #[test]
    fn lying_counts_and_sizes_are_refused() {
        let mut huge_count = serialize(PAIRS);
        huge_count[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(deserialize(&huge_count), None);

        let mut long_name = serialize(PAIRS);
        long_name[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(deserialize(&long_name), None);

        // A size off by one: the NUL is not where the size says.
        let mut off = serialize(PAIRS);
        off[8..12].copy_from_slice(&2u32.to_le_bytes());
        assert_eq!(deserialize(&off), None);
    }

    #[test]
    fn every_byte_value_anywhere_never_panics() {
        let bytes = serialize(PAIRS);
        for at in 0..bytes.len() {
            for value in [0u8, 1, 0x7f, 0x80, 0xff] {
                let mut changed = bytes.clone();
                changed[at] = value;
                let _ = deserialize(&changed);
            }
        }
    }

    #[test]
    fn a_name_that_is_not_utf8_is_made_text() {
        let mut bytes = serialize(&[("ab", b"v")]);
        let name_at = 4 + 8;
        bytes[name_at] = 0xff;
        let read = deserialize(&bytes).unwrap();
        assert_eq!(read, vec![("\u{fffd}b".to_string(), b"v".to_vec())]);
    }

    #[test]
    fn a_path_joins_its_parts_with_nul() {
        assert_eq!(path(&["xds", "route_name"]), b"xds\0route_name");
        assert_eq!(path(&["one"]), b"one");
        assert_eq!(path(&[]), b"");
    }
}
