//! A minimal ZIP writer (stored entries, no compression): enough for the run logs archive that
//! `GET .../actions/runs/{id}/logs` redirects to, which GitHub serves as a ZIP of one text file
//! per job step. Written here because no ZIP crate is in the dependency tree and the format's
//! stored subset is small and fixed (PKWARE APPNOTE 6.3, sections 4.3.7, 4.3.12, 4.3.16).

/// The CRC-32 (IEEE 802.3, reflected) ZIP stores for each entry.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
}

fn u16le(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&u16::try_from(n).unwrap_or(u16::MAX).to_le_bytes());
}

fn u32le(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&u32::try_from(n).unwrap_or(u32::MAX).to_le_bytes());
}

/// A ZIP archive holding `files` (name, bytes), uncompressed, dated 1980-01-01.
pub(crate) fn stored(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, bytes) in files {
        let offset = out.len();
        let crc = crc32(bytes).to_le_bytes();
        // Version 2.0, no flags, method 0 (stored), DOS time 0 and date 1980-01-01 (0x21).
        let common = |out: &mut Vec<u8>| {
            u16le(out, 20);
            u16le(out, 0);
            u16le(out, 0);
            u16le(out, 0);
            u16le(out, 0x21);
            out.extend_from_slice(&crc);
            u32le(out, bytes.len());
            u32le(out, bytes.len());
            u16le(out, name.len());
            u16le(out, 0);
        };
        out.extend_from_slice(b"PK\x03\x04");
        common(&mut out);
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(bytes);
        central.extend_from_slice(b"PK\x01\x02");
        u16le(&mut central, 20);
        common(&mut central);
        // Comment length, disk number, internal and external attributes, local header offset.
        u16le(&mut central, 0);
        u16le(&mut central, 0);
        u16le(&mut central, 0);
        u32le(&mut central, 0);
        u32le(&mut central, offset);
        central.extend_from_slice(name.as_bytes());
    }
    let central_offset = out.len();
    let central_len = central.len();
    out.extend_from_slice(&central);
    out.extend_from_slice(b"PK\x05\x06");
    u16le(&mut out, 0);
    u16le(&mut out, 0);
    u16le(&mut out, files.len());
    u16le(&mut out, files.len());
    u32le(&mut out, central_len);
    u32le(&mut out, central_offset);
    u16le(&mut out, 0);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn an_archive_lists_its_files_to_unzip() {
        let zip = stored(&[
            ("build/1_Set up job.txt".to_owned(), b"hello\n".to_vec()),
            ("build/2_Build.txt".to_owned(), b"world\n".to_vec()),
        ]);
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("logs.zip");
        std::fs::write(&path, &zip).expect("write");
        // Python's zipfile is the independent reader (unzip is not always installed).
        let out = std::process::Command::new("python3")
            .args([
                "-c",
                "import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); assert z.testzip() is None; print([(n, z.read(n).decode()) for n in z.namelist()])",
            ])
            .arg(&path)
            .output();
        let Ok(out) = out else {
            eprintln!("skipped: python3 not installed");
            return;
        };
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            "[('build/1_Set up job.txt', 'hello\\n'), ('build/2_Build.txt', 'world\\n')]"
        );
    }
}
