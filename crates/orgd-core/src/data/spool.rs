//! A results spool: text kept in memory up to [`IN_MEMORY`], then in a temporary file, so that an import
//! of millions of actions keeps its per-action results without holding them in memory.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};

/// Text kept in memory before the spool moves to a temporary file.
pub const IN_MEMORY: usize = 8 * 1024 * 1024;

/// See the module documentation.
#[derive(Debug, Default)]
pub struct Spool {
    buf: String,
    file: Option<File>,
    len: u64,
}

impl Spool {
    /// An empty spool.
    pub fn new() -> Self {
        Spool::default()
    }

    /// Append text.
    pub fn push_str(&mut self, s: &str) -> std::io::Result<()> {
        self.buf.push_str(s);
        self.len += s.len() as u64;
        if self.buf.len() >= IN_MEMORY {
            self.spill()?;
        }
        Ok(())
    }

    fn spill(&mut self) -> std::io::Result<()> {
        let file = match &mut self.file {
            Some(f) => f,
            None => self.file.insert(tempfile::tempfile()?),
        };
        file.write_all(self.buf.as_bytes())?;
        self.buf.clear();
        Ok(())
    }

    /// The bytes held.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether nothing was written.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Read everything back, calling `f` with pieces of at most `piece` bytes, in order.
    pub fn for_each_piece(
        &mut self,
        piece: usize,
        mut f: impl FnMut(&[u8]) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        if let Some(file) = &mut self.file {
            file.seek(SeekFrom::Start(0))?;
            let mut chunk = vec![0u8; piece];
            loop {
                let mut filled = 0;
                while filled < piece {
                    let n = file.read(&mut chunk[filled..])?;
                    if n == 0 {
                        break;
                    }
                    filled += n;
                }
                if filled == 0 {
                    break;
                }
                f(&chunk[..filled])?;
                if filled < piece {
                    break;
                }
            }
        }
        for c in self.buf.as_bytes().chunks(piece.max(1)) {
            f(c)?;
        }
        Ok(())
    }

    /// Everything as one buffer (for answers known to be small).
    pub fn into_bytes(mut self) -> std::io::Result<Vec<u8>> {
        let mut out = Vec::with_capacity(self.len as usize);
        self.for_each_piece(1 << 20, |p| {
            out.extend_from_slice(p);
            Ok(())
        })?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn text_comes_back_whole_from_memory_and_from_disk() {
        let mut s = super::Spool::new();
        s.push_str("[").unwrap();
        let line = "x".repeat(1000);
        for _ in 0..10_000 {
            s.push_str(&line).unwrap();
        }
        s.push_str("]").unwrap();
        assert!(s.file.is_some(), "10 MB went to disk");
        assert_eq!(s.len(), 10_000_002);
        let mut pieces = 0;
        let mut total = 0;
        s.for_each_piece(65536, |p| {
            pieces += 1;
            total += p.len();
            Ok(())
        })
        .unwrap();
        assert_eq!(total, 10_000_002);
        assert!(pieces > 100);
        let all = s.into_bytes().unwrap();
        assert_eq!((all[0], all[all.len() - 1], all.len()), (b'[', b']', 10_000_002));
    }
}
