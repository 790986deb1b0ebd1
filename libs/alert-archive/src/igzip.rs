//! Whole-buffer gzip with ISA-L's igzip, through its raw bindings.
//!
//! `isal-rs`'s `compress_into` builds a fresh stream for every call: an 82 KB `isal_zstream`
//! moved by value, and a zero-filled work buffer (276 KB at level 1) that the allocator may
//! hand back as fresh pages. For the ingester, at one call per ~112 KB alert, that setup
//! showed up beside the compression itself (memset, memmove and page faults in a profile).
//! Here both live in a [`Stream`] that is reused, and the output is written straight into the
//! spare capacity of the returned vector, never zero-filled first.
//!
//! The only `unsafe` code of the workspace is in this module: the calls into the C library and
//! the one `set_len` after it reports how much it wrote.
#![allow(unsafe_code)]

use crate::IdlePool;
use isal_sys::igzip_lib as ffi;

/// The levels igzip offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Level {
    Zero,
    One,
    Three,
}

impl Level {
    pub(crate) fn from_gzip_level(level: u32) -> Option<Level> {
        match level {
            0 => Some(Level::Zero),
            1 => Some(Level::One),
            3 => Some(Level::Three),
            _ => None,
        }
    }

    fn number(self) -> u32 {
        match self {
            Level::Zero => 0,
            Level::One => 1,
            Level::Three => 3,
        }
    }

    /// ISA-L's default work-buffer size for the level (the size `isal-rs` uses too: it sets
    /// where the blocks end, so the same size gives the same bytes).
    fn buffer_size(self) -> usize {
        (match self {
            Level::Zero => ffi::ISAL_DEF_LVL0_DEFAULT,
            Level::One => ffi::ISAL_DEF_LVL1_DEFAULT,
            Level::Three => ffi::ISAL_DEF_LVL3_DEFAULT,
        }) as usize
    }
}

/// A compression stream and its level's work buffer.
struct Stream {
    level: Level,
    state: Box<ffi::isal_zstream>,
    work: Box<[u8]>,
}

// SAFETY: the raw pointers inside `state` point into `work` (owned by the same value, and
// boxed so it does not move) or at caller buffers that are reset to null before `compress`
// returns; nothing refers to thread-local data, so the value may move between threads.
unsafe impl Send for Stream {}

impl Stream {
    fn new(level: Level) -> Stream {
        // On the heap from the start: the struct is 82 KB.
        let layout = std::alloc::Layout::new::<ffi::isal_zstream>();
        // SAFETY: the layout has a non-zero size; an all-zero `isal_zstream` is plain data
        // (integers and null pointers), initialised for stateless use before every call anyway;
        // the Box owns an allocation made by the global allocator with the type's own layout.
        let state = unsafe {
            let raw = std::alloc::alloc_zeroed(layout).cast::<ffi::isal_zstream>();
            if raw.is_null() {
                std::alloc::handle_alloc_error(layout);
            }
            Box::from_raw(raw)
        };
        Stream {
            level,
            state,
            work: vec![0u8; level.buffer_size()].into_boxed_slice(),
        }
    }

    /// One whole-buffer gzip member (default header: no name, mtime 0, OS unknown), or `None`
    /// when the output does not fit in `capacity` bytes or the library reports an error.
    fn compress(&mut self, data: &[u8], capacity: usize) -> Option<Vec<u8>> {
        let avail_in = u32::try_from(data.len()).ok()?;
        let avail_out = u32::try_from(capacity).ok()?;
        let mut out: Vec<u8> = Vec::with_capacity(capacity);
        let state = &mut *self.state;
        // SAFETY: `state` is a valid, exclusively borrowed stream.
        unsafe { ffi::isal_deflate_stateless_init(state) };
        state.level = self.level.number();
        state.level_buf = if self.work.is_empty() {
            std::ptr::null_mut()
        } else {
            self.work.as_mut_ptr()
        };
        state.level_buf_size = self.work.len() as u32;
        state.gzip_flag = ffi::IGZIP_GZIP as u16;
        state.end_of_stream = 1;
        state.flush = ffi::NO_FLUSH as u16;
        // igzip only reads through `next_in`; the pointer is mutable in the C declaration only.
        state.next_in = data.as_ptr().cast_mut();
        state.avail_in = avail_in;
        state.next_out = out.as_mut_ptr();
        state.avail_out = avail_out;
        // SAFETY: the input and output pointers are valid for `avail_in` and `avail_out` bytes
        // and the work buffer for `level_buf_size`; igzip writes no more than `avail_out`
        // bytes (it returns STATELESS_OVERFLOW instead).
        let status = unsafe { ffi::isal_deflate_stateless(state) };
        let written = state.total_out as usize;
        state.next_in = std::ptr::null_mut();
        state.next_out = std::ptr::null_mut();
        if status != ffi::COMP_OK as i32 || written > capacity {
            return None;
        }
        // SAFETY: igzip initialised the first `written` bytes (its total output), within the
        // capacity.
        unsafe { out.set_len(written) };
        Some(out)
    }
}

/// Idle streams, reused across calls and threads (a level 1 stream is ~360 KB).
static IDLE_STREAMS: IdlePool<Stream> = IdlePool::new();

/// Gzip of `data` at `level`, or `None` if igzip failed (the caller falls back).
pub(crate) fn gzip(data: &[u8], level: Level) -> Option<Vec<u8>> {
    let key = level.number();
    let mut stream = IDLE_STREAMS.take(key, || Stream::new(level));
    // Stored blocks cost 5 bytes a 64 KiB block and the gzip wrapper 18, so incompressible
    // input fits with room to spare; if it still did not fit, igzip reports an overflow and
    // the caller falls back rather than losing the alert.
    let out = stream.compress(data, data.len() + data.len() / 64 + 1024);
    IDLE_STREAMS.give_back(key, stream);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        // Text-like and noisy parts, past the 64 KiB history, so matches and literals both occur.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut data = Vec::new();
        for i in 0..4000u32 {
            data.extend_from_slice(format!("diaSource {i} psfFlux {} ", i * 37 % 1013).as_bytes());
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            data.extend_from_slice(&state.to_le_bytes());
        }
        data
    }

    #[test]
    fn same_bytes_as_isal_rs_at_every_level() {
        let data = sample();
        for (level, theirs) in [
            (Level::Zero, isal::CompressionLevel::Zero),
            (Level::One, isal::CompressionLevel::One),
            (Level::Three, isal::CompressionLevel::Three),
        ] {
            let mut expected = vec![0u8; data.len() * 2];
            let n = isal::compress_into(&data, &mut expected, theirs, isal::Codec::Gzip).unwrap();
            expected.truncate(n);
            // Twice: the second call reuses the idle stream.
            assert_eq!(gzip(&data, level).unwrap(), expected, "{level:?}");
            assert_eq!(gzip(&data, level).unwrap(), expected, "{level:?} again");
        }
    }

    #[test]
    fn too_small_an_output_is_an_error_not_an_overrun() {
        let data = sample();
        let mut stream = Stream::new(Level::One);
        assert!(stream.compress(&data, 100).is_none());
        // The stream is still usable afterwards.
        let out = stream.compress(&data, data.len() * 2).unwrap();
        assert_eq!(out, gzip(&data, Level::One).unwrap());
    }
}
