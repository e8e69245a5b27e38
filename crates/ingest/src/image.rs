//! Image dimensions from the first bytes of a PNG or JPEG, parsed by hand: the platform only
//! needs width and height, not a decoder.

/// PNG: the IHDR chunk right after the signature holds width and height.
fn png(bytes: &[u8]) -> Option<(u32, u32)> {
    const SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";
    if !bytes.starts_with(SIGNATURE) || bytes.get(12..16)? != b"IHDR" {
        return None;
    }
    let w = u32::from_be_bytes(bytes.get(16..20)?.try_into().ok()?);
    let h = u32::from_be_bytes(bytes.get(20..24)?.try_into().ok()?);
    Some((w, h))
}

/// JPEG: walk the marker segments to the first start-of-frame (SOF0..SOF15 except DHT, JPG and
/// DAC, which share the range).
fn jpeg(bytes: &[u8]) -> Option<(u32, u32)> {
    if !bytes.starts_with(&[0xFF, 0xD8]) {
        return None;
    }
    let mut i = 2;
    loop {
        // Markers may be preceded by any number of 0xFF fill bytes.
        if *bytes.get(i)? != 0xFF {
            return None;
        }
        while *bytes.get(i)? == 0xFF {
            i += 1;
        }
        let marker = *bytes.get(i)?;
        i += 1;
        match marker {
            // Standalone markers carry no length.
            0x01 | 0xD0..=0xD7 => continue,
            0xD8 => continue,
            0xD9 | 0xDA => return None,
            _ => {}
        }
        let len = u16::from_be_bytes([*bytes.get(i)?, *bytes.get(i + 1)?]) as usize;
        if len < 2 {
            return None;
        }
        if matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC) {
            let h = u16::from_be_bytes([*bytes.get(i + 3)?, *bytes.get(i + 4)?]);
            let w = u16::from_be_bytes([*bytes.get(i + 5)?, *bytes.get(i + 6)?]);
            return Some((u32::from(w), u32::from(h)));
        }
        i = i.checked_add(len)?;
    }
}

/// (width, height) of a PNG or JPEG, or None for anything else or a truncated header.
pub fn dimensions(bytes: &[u8]) -> Option<(u32, u32)> {
    png(bytes).or_else(|| jpeg(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    pub(crate) fn tiny_png(w: u32, h: u32) -> Vec<u8> {
        let mut v = b"\x89PNG\r\n\x1a\n".to_vec();
        v.extend_from_slice(&13u32.to_be_bytes());
        v.extend_from_slice(b"IHDR");
        v.extend_from_slice(&w.to_be_bytes());
        v.extend_from_slice(&h.to_be_bytes());
        v.extend_from_slice(&[8, 2, 0, 0, 0, 0, 0, 0, 0]);
        v
    }

    fn tiny_jpeg(w: u16, h: u16) -> Vec<u8> {
        let mut v = vec![0xFF, 0xD8];
        // An APP0 segment to skip, then fill bytes, then SOF2 (progressive).
        v.extend_from_slice(&[0xFF, 0xE0, 0x00, 0x06, b'J', b'F', b'I', b'F']);
        v.extend_from_slice(&[0xFF, 0xFF, 0xC2, 0x00, 0x11, 0x08]);
        v.extend_from_slice(&h.to_be_bytes());
        v.extend_from_slice(&w.to_be_bytes());
        v.extend_from_slice(&[3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]);
        v.extend_from_slice(&[0xFF, 0xD9]);
        v
    }

    #[test]
    fn png_and_jpeg() {
        assert_eq!(dimensions(&tiny_png(640, 480)), Some((640, 480)));
        assert_eq!(dimensions(&tiny_jpeg(1024, 768)), Some((1024, 768)));
        assert_eq!(dimensions(b"GIF89a"), None);
        assert_eq!(dimensions(&tiny_png(640, 480)[..20]), None);
        // DHT (0xC4) is in the SOF range but is not a frame header.
        let mut j = vec![0xFF, 0xD8, 0xFF, 0xC4, 0x00, 0x04, 1, 2];
        j.extend_from_slice(&tiny_jpeg(3, 4)[2..]);
        assert_eq!(dimensions(&j), Some((3, 4)));
    }

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = dimensions(&bytes);
        }

        #[test]
        fn never_panics_on_jpeg_like_input(tail in proptest::collection::vec(any::<u8>(), 0..256)) {
            let mut bytes = vec![0xFF, 0xD8, 0xFF];
            bytes.extend(tail);
            let _ = dimensions(&bytes);
        }

        #[test]
        fn png_dimensions_round_trip(w in any::<u32>(), h in any::<u32>()) {
            prop_assert_eq!(dimensions(&tiny_png(w, h)), Some((w, h)));
        }
    }
}
