use super::*;

fn read_one(bytes: &[u8]) -> Result<Tlv<'_>, Error> {
    parse(bytes, Reader::any)
}

#[test]
fn lengths_definite_and_shortest() {
    let long = [&[0x04, 0x81, 0x80][..], &[7; 0x80]].concat();
    assert_eq!(read_one(&long).unwrap().value.len(), 0x80);
    let two = [&[0x04, 0x82, 0x01, 0x00][..], &[7; 0x100]].concat();
    assert_eq!(read_one(&two).unwrap().value.len(), 0x100);
    for (bytes, what) in [
        (
            &[0x04, 0x81, 0x05, 1, 2, 3, 4, 5][..],
            "length not in its shortest form",
        ),
        (&[0x04, 0x82, 0x00, 0x80], "length not in its shortest form"),
        (&[0x30, 0x80, 0x00, 0x00], "indefinite length"),
        (&[0x04, 0x85, 0, 0, 0, 0, 1, 0], "length too large"),
        (
            &[0x04, 0x84, 0xFF, 0xFF, 0xFF, 0xFF],
            "length runs past the end of the input",
        ),
        (&[0x04, 0x02, 0x00], "length runs past the end of the input"),
        (&[0x04], "input ends inside an element header"),
        (&[0x04, 0x00, 0x00], "trailing data"),
    ] {
        assert_eq!(
            read_one(bytes).map(|_| ()).unwrap_err().what,
            what,
            "{bytes:02x?}"
        );
    }
}

#[test]
fn tags() {
    // Known universal tags only; SEQUENCE and SET constructed only.
    for byte in [0x07, 0x08, 0x0B, 0x10, 0x11, 0x1C, 0x1F, 0x24, 0x3F, 0x00] {
        assert_eq!(
            read_one(&[byte, 0]).unwrap_err().what,
            "unknown universal tag",
            "{byte:02x}"
        );
    }
    // High tag numbers: at least 31, no leading zero digit, within u32.
    assert_eq!(read_one(&[0x9F, 0x1F, 0]).unwrap().tag.parts(), (0x80, 31));
    assert_eq!(
        read_one(&[0xBF, 0x81, 0x00, 0]).unwrap().tag.parts(),
        (0xA0, 128)
    );
    assert_eq!(
        read_one(&[0x5F, 0x8F, 0xFF, 0xFF, 0xFF, 0x7F, 0])
            .unwrap()
            .tag
            .parts(),
        (0x40, u32::MAX)
    );
    for bytes in [
        &[0x9F, 0x1E, 0][..],
        &[0x9F, 0x80, 0x1F, 0],
        &[0x9F, 0x90, 0x80, 0x80, 0x80, 0x00, 0],
        &[0x9F, 0x81, 0x81, 0x81, 0x81, 0x81, 0x01, 0],
        &[0x9F, 0x81],
    ] {
        assert!(read_one(bytes).is_err(), "{bytes:02x?}");
    }
    let tag = read_one(&[0xA3, 0]).unwrap().tag;
    assert!(tag.is_context(3) && tag.is_constructed() && !tag.is_context(2));
}

#[test]
fn integers() {
    let tlv = |value: &'static [u8]| Tlv {
        tag: Tag::INTEGER,
        value,
        at: 0,
    };
    assert_eq!(uint(&tlv(&[0])), Ok(&[0][..]));
    assert_eq!(uint(&tlv(&[0, 0x80])), Ok(&[0x80][..]));
    assert_eq!(uint(&tlv(&[1, 0, 1])), Ok(&[1, 0, 1][..]));
    for bad in [&[][..], &[0, 1], &[0x80], &[0, 0, 0x80]] {
        assert!(uint(&tlv(bad)).is_err(), "{bad:02x?}");
    }
    for good in [&[0][..], &[0xFF], &[0, 0x80], &[0xFF, 0x7F], &[0x80, 0]] {
        assert_eq!(int(&tlv(good)), Ok(()), "{good:02x?}");
    }
    for bad in [&[][..], &[0, 1], &[0xFF, 0x80]] {
        assert!(int(&tlv(bad)).is_err(), "{bad:02x?}");
    }
}

#[test]
fn oids() {
    assert_eq!(
        oid_string(&[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 1, 1, 1]),
        "1.2.840.113549.1.1.1"
    );
    assert_eq!(
        oid_string(&[0x77, 0x8F, 0xFF, 0xFF, 0xFF, 0x7F]),
        "2.39.4294967295"
    );
    // const-oid's reading: a redundant leading 0x80 digit passes, the value is the same.
    assert_eq!(oid_string(&[0x2A, 0x80, 0x01]), "1.2.1");
    for bad in [
        &[][..],
        &[0x78],
        &[0x2A, 0x81],
        &[0x2A, 0x90, 0x80, 0x80, 0x80, 0x00],
        &[0x2A; 40],
    ] {
        assert!(oid(bad).is_err(), "{bad:02x?}");
    }
    assert!(oid(&[0x2A; 39]).is_ok());
}

#[test]
fn times() {
    let check = |tag, text: &'static [u8]| {
        time(&Tlv {
            tag,
            value: text,
            at: 0,
        })
        .is_ok()
    };
    assert!(check(Tag::UTC_TIME, b"491231235959Z"));
    assert!(check(Tag::UTC_TIME, b"700101000000Z"));
    assert!(!check(Tag::UTC_TIME, b"691231235959Z"));
    assert!(check(Tag::UTC_TIME, b"000229000000Z"));
    assert!(!check(Tag::UTC_TIME, b"010229000000Z"));
    assert!(check(Tag::GENERALIZED_TIME, b"99991231235959Z"));
    assert!(!check(Tag::GENERALIZED_TIME, b"21000229000000Z"));
    assert!(!check(Tag::GENERALIZED_TIME, b"19691231235959Z"));
    assert!(!check(Tag::GENERALIZED_TIME, b"491231235959Z"));
    assert!(!check(Tag::UTC_TIME, b"4912312359Z"));
    assert!(!check(Tag::OCTET_STRING, b"491231235959Z"));
}

#[test]
fn bit_strings_and_booleans() {
    let tlv = |value: &'static [u8]| Tlv {
        tag: Tag::BIT_STRING,
        value,
        at: 0,
    };
    assert_eq!(bit_string(&tlv(&[0])), Ok((0, &[][..])));
    assert_eq!(bit_string(&tlv(&[7, 0x80])), Ok((7, &[0x80][..])));
    for bad in [&[][..], &[1], &[8, 0]] {
        assert!(bit_string(&tlv(bad)).is_err(), "{bad:02x?}");
    }
    assert_eq!(boolean(&tlv(&[0xFF])), Ok(true));
    assert_eq!(boolean(&tlv(&[0])), Ok(false));
    assert!(boolean(&tlv(&[1])).is_err() && boolean(&tlv(&[])).is_err());
}
