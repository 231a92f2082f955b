//! The entropy-coded data of a JPEG's scans, read symbol by symbol (Huffman codes and their
//! extra bits; nothing is dequantised or transformed) to prove that every scan holds exactly
//! the blocks its frame header promises.
//!
//! Why: a decoder fills in what is missing. When the data of a scan ends at a marker — a file
//! cut mid-scan with `FF D9` appended, or a frame header patched to claim a larger image —
//! zune-jpeg reads zero bits past the marker and returns a complete-looking image whose lower
//! part is invented, even in strict mode. The marker walk ([`super::container::walk_jpeg`])
//! sees a well-formed file; only counting the coded blocks shows that the data ran out.
//!
//! What is checked, per ITU-T T.81 (Annex F for sequential, Annex G for progressive coding):
//! - every scan decodes into the number of MCUs (interleaved scans) or blocks (scans of one
//!   component) that the frame size and sampling factors give, with valid Huffman codes and
//!   restart markers `RST0..RST7` in sequence after every restart interval;
//! - a sequential frame has a scan for every component;
//! - a progressive frame sends every coefficient of every component down to its last bit
//!   (successive approximation `Al` = 0), so a file cut between two scans is found too.
//!
//! Running out of data in the last scan is [`EvidenceError::Truncated`]; other failures,
//! including a scan that ends early but is followed by more scans, are
//! [`EvidenceError::Corrupt`]. Up to [`MAX_TRAILING_SCAN_BYTES`] bytes left over after the
//! last block of a scan are tolerated (some encoders pad); more means the frame header does not
//! describe the data (`Corrupt`).

use super::EvidenceError;

/// More scans than this are refused (zune-jpeg's own limit for progressive JPEGs; a sequential
/// JPEG has at most one scan per component, a progressive one about ten).
pub(super) const MAX_SCANS: usize = 100;

/// Bytes of a scan's data allowed after its last block: padding some encoders write. More is
/// image data the frame header does not account for (a patched size, spliced data).
pub(super) const MAX_TRAILING_SCAN_BYTES: usize = 1024;

/// One component of the frame header (SOF).
#[derive(Debug, Clone, Copy)]
pub(super) struct FrameComponent {
    /// Component identifier (`Ci`), referenced by the scan headers.
    pub(super) id: u8,
    /// Horizontal sampling factor, 1..=4.
    pub(super) h: u8,
    /// Vertical sampling factor, 1..=4.
    pub(super) v: u8,
}

/// The frame: size, components, coding.
#[derive(Debug, Clone)]
pub(super) struct Frame {
    pub(super) width: u32,
    pub(super) height: u32,
    pub(super) components: Vec<FrameComponent>,
    pub(super) progressive: bool,
}

/// One scan as the marker walk found it: its header, where its data lies, and the coding
/// tables in force when it started.
#[derive(Debug, Clone)]
pub(super) struct ScanSegment<'a> {
    /// Offset of the SOS marker (for messages).
    pub(super) marker_at: usize,
    /// The SOS segment's body.
    pub(super) header: &'a [u8],
    /// The entropy-coded data with its `RSTn` markers, up to the marker that ends the scan.
    pub(super) data: &'a [u8],
    /// The restart interval in MCUs (DRI); 0 = none.
    pub(super) restart_interval: u16,
    /// Huffman table specifications (16 code-length counts, then the symbols) in force: DC
    /// tables 0..=3, then AC tables 0..=3.
    pub(super) tables: [Option<&'a [u8]>; 8],
    /// True when the marker that ends the data is the end of image (the last scan).
    pub(super) last: bool,
}

/// Checks every scan of a frame; see the module documentation.
///
/// Memory: a progressive frame keeps one 64-bit word per block of each component (which
/// coefficients are already non-zero), 1/16 of the decoder's own coefficient store.
pub(super) fn check_scans(frame: &Frame, scans: &[ScanSegment<'_>]) -> Result<(), EvidenceError> {
    let mut state = FrameState::new(frame);
    for (n, scan) in scans.iter().enumerate() {
        let number = n + 1;
        let result = check_scan(frame, scan, &mut state);
        match result {
            Ok(()) => {}
            Err(ScanError::OutOfData { done, total, unit }) if scan.last => {
                return Err(EvidenceError::truncated(format!(
                    "the image data of scan {number} (at offset {}) ends after {done} of its {total} {unit}s; \
                     the rest of the image is missing",
                    scan.marker_at
                )));
            }
            Err(ScanError::OutOfData { done, total, unit }) => {
                return Err(EvidenceError::corrupt(format!(
                    "scan {number} (at offset {}) holds only {done} of its {total} {unit}s",
                    scan.marker_at
                )));
            }
            Err(ScanError::Corrupt(what)) => {
                return Err(EvidenceError::corrupt(format!(
                    "scan {number} (at offset {}): {what}",
                    scan.marker_at
                )));
            }
        }
    }
    state.check_complete(frame)
}

#[derive(Debug)]
enum ScanError {
    /// The data ran out after `done` of `total` units.
    OutOfData {
        done: u64,
        total: u64,
        unit: &'static str,
    },
    Corrupt(String),
}

/// What the scans so far have sent, per frame component.
struct FrameState {
    /// Sequential: which components have had their scan.
    seen: Vec<bool>,
    /// Progressive: per component and coefficient (zig-zag order), the `Al` of the last scan
    /// that sent it (`u8::MAX`: not sent yet).
    sent_to: Vec<[u8; 64]>,
    /// Progressive: per component, one word per block, bit `k` set when coefficient `k` is
    /// non-zero (allocated with the component's first AC scan).
    nonzero: Vec<Vec<u64>>,
}

impl FrameState {
    fn new(frame: &Frame) -> Self {
        let n = frame.components.len();
        FrameState {
            seen: vec![false; n],
            sent_to: vec![[u8::MAX; 64]; n],
            nonzero: vec![Vec::new(); n],
        }
    }

    fn check_complete(&self, frame: &Frame) -> Result<(), EvidenceError> {
        for (i, c) in frame.components.iter().enumerate() {
            if frame.progressive {
                if let Some(k) = self.sent_to[i].iter().position(|&al| al != 0) {
                    return Err(EvidenceError::truncated(format!(
                        "the progressive image data ends before component {} is complete \
                         (coefficient {k} {}): scans are missing — the file was cut between \
                         scans, or its encoder never sent them (refused either way: the \
                         difference cannot be told)",
                        c.id,
                        if self.sent_to[i][k] == u8::MAX {
                            "was never sent".to_owned()
                        } else {
                            format!("lacks its last {} bit(s)", self.sent_to[i][k])
                        }
                    )));
                }
            } else if !self.seen[i] {
                return Err(EvidenceError::truncated(format!(
                    "the image data ends before any scan of component {}; scans are missing",
                    c.id
                )));
            }
        }
        Ok(())
    }
}

/// A canonical Huffman table (T.81 Annex C) for decoding: a 9-bit lookup for short codes,
/// the largest code of each length for the rest.
struct Huffman {
    /// Indexed by the next 9 bits: `(bits << 8) | symbol`, where `bits` is the code's length
    /// plus the extra bits that follow it (the symbol's low 4 bits: a coefficient's size); 0
    /// when the code is longer than 9 bits.
    lookup: [u16; 512],
    /// Largest code of each length 1..=16 (−1: none).
    max_code: [i32; 17],
    /// `symbol index − code` for codes of each length.
    offset: [i32; 17],
    symbols: Vec<u8>,
}

impl Huffman {
    fn new(spec: &[u8]) -> Result<Huffman, String> {
        let counts = spec.get(..16).ok_or("a Huffman table is too short")?;
        let symbols = spec[16..].to_vec();
        let total: usize = counts.iter().map(|&c| usize::from(c)).sum();
        if total != symbols.len() || total == 0 {
            return Err("a Huffman table is inconsistent".to_owned());
        }
        let mut lookup = [0u16; 512];
        let mut max_code = [-1i32; 17];
        let mut offset = [0i32; 17];
        let mut code: u32 = 0;
        let mut k: usize = 0;
        for len in 1..=16u32 {
            let n = usize::from(counts[len as usize - 1]);
            offset[len as usize] = k as i32 - code as i32;
            for _ in 0..n {
                if code >= (1 << len) {
                    return Err("a Huffman table has more codes than fit".to_owned());
                }
                if len <= 9 {
                    let shift = 9 - len;
                    let first = (code << shift) as usize;
                    let bits = len as u16 + u16::from(symbols[k] & 0x0F);
                    let entry = (bits << 8) | u16::from(symbols[k]);
                    lookup[first..first + (1 << shift)].fill(entry);
                }
                code += 1;
                k += 1;
            }
            if n > 0 {
                max_code[len as usize] = code as i32 - 1;
            }
            code <<= 1;
        }
        Ok(Huffman {
            lookup,
            max_code,
            offset,
            symbols,
        })
    }

    /// The (length, symbol) of the code at the top of `peek` (16 bits), longer than 9 bits.
    fn slow(&self, peek: u32) -> Option<(u32, u8)> {
        for len in 10..=16u32 {
            let code = (peek >> (16 - len)) as i32;
            if code <= self.max_code[len as usize] {
                let index = usize::try_from(code + self.offset[len as usize]).ok()?;
                return self.symbols.get(index).map(|&s| (len, s));
            }
        }
        None
    }
}

/// Reads bits from entropy-coded data: `FF 00` is a data byte `FF`, any other `FF xx` is a
/// marker where the data stops. Past the stop, bits read as 1 (the padding value) but cannot
/// be consumed: consuming them is running out of data.
struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
    /// Buffered bits, most significant first; the low `64 − n` bits are 0.
    acc: u64,
    n: u32,
    /// Offset of the marker (`FF`) where reading stopped, if it did.
    stopped_at: Option<usize>,
}

impl<'a> Bits<'a> {
    fn new(data: &'a [u8]) -> Self {
        Bits {
            data,
            pos: 0,
            acc: 0,
            n: 0,
            stopped_at: None,
        }
    }

    #[inline]
    fn fill(&mut self) {
        // Four bytes at a time while none is FF (most of the data).
        while self.n <= 32 {
            let Some(chunk) = self.data.get(self.pos..self.pos + 4) else {
                break;
            };
            let word = u32::from_be_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
            let inverted = !word;
            if inverted.wrapping_sub(0x0101_0101) & !inverted & 0x8080_8080 != 0 {
                break; // an FF byte
            }
            self.acc |= u64::from(word) << (32 - self.n);
            self.n += 32;
            self.pos += 4;
        }
        while self.n <= 56 {
            let Some(&b) = self.data.get(self.pos) else {
                self.stopped_at = Some(self.pos);
                return;
            };
            if b == 0xFF {
                if self.data.get(self.pos + 1) == Some(&0x00) {
                    self.pos += 2;
                } else {
                    self.stopped_at = Some(self.pos);
                    return;
                }
            } else {
                self.pos += 1;
            }
            self.acc |= u64::from(b) << (56 - self.n);
            self.n += 8;
        }
    }

    /// The next 16 bits, 1-padded past the stop.
    #[inline]
    fn peek16(&self) -> u32 {
        let padded = if self.n >= 16 {
            self.acc
        } else {
            self.acc | (u64::MAX >> self.n)
        };
        (padded >> 48) as u32
    }

    #[inline]
    fn consume(&mut self, k: u32) -> Result<(), Short> {
        if k > self.n {
            return Err(Short::End);
        }
        self.acc <<= k;
        self.n -= k;
        Ok(())
    }

    /// Skips `k` ≤ 16 bits (extra bits of a coefficient, correction bits).
    #[inline]
    fn skip(&mut self, k: u32) -> Result<(), Short> {
        if k > self.n {
            self.fill();
        }
        self.consume(k)
    }

    /// Reads `k` ≤ 16 bits as a number.
    #[inline]
    fn get(&mut self, k: u32) -> Result<u32, Short> {
        if k == 0 {
            return Ok(0);
        }
        if k > self.n {
            self.fill();
        }
        let value = (self.acc >> (64 - k)) as u32;
        self.consume(k)?;
        Ok(value)
    }

    /// Decodes one Huffman symbol and skips the extra bits that follow it (as many as the
    /// symbol's low 4 bits: a coefficient's or DC difference's size; other extra bits, such as
    /// an end-of-band run's, are the caller's).
    #[inline]
    fn decode(&mut self, table: &Huffman) -> Result<u8, Short> {
        if self.n < 32 {
            self.fill();
        }
        let peek = self.peek16();
        let entry = table.lookup[(peek >> 7) as usize];
        if entry != 0 {
            self.consume(u32::from(entry >> 8))?;
            return Ok(entry as u8);
        }
        let (len, symbol) = match table.slow(peek) {
            Some(found) => found,
            // An invalid code in real data; in padding, the data ran out.
            None if self.n < 16 && self.stopped_at.is_some() => return Err(Short::End),
            None => return Err(Short::Invalid),
        };
        self.consume(len)?;
        self.skip(u32::from(symbol & 0x0F))?;
        Ok(symbol)
    }

    /// At the end of a restart interval: drops the padding bits and any bytes before the next
    /// marker, which must be `RST(expected)`.
    fn restart(&mut self, expected: u8) -> Result<(), RestartError> {
        self.acc = 0;
        self.n = 0;
        self.stopped_at = None;
        let mut p = self.pos;
        loop {
            let Some(offset) = self
                .data
                .get(p..)
                .and_then(|d| d.iter().position(|&b| b == 0xFF))
            else {
                return Err(RestartError::End);
            };
            let mut q = p + offset + 1;
            while self.data.get(q) == Some(&0xFF) {
                q += 1;
            }
            match self.data.get(q) {
                None => return Err(RestartError::End),
                Some(0x00) => p = q + 1,
                Some(&m) if m == 0xD0 + expected => {
                    self.pos = q + 1;
                    return Ok(());
                }
                Some(&m) => return Err(RestartError::Wrong(m)),
            }
        }
    }

    /// Bytes not consumed: whole buffered bytes and the rest of the data.
    fn left_over(&self) -> usize {
        (self.n / 8) as usize + self.data.len().saturating_sub(self.pos)
    }

    /// Where reading stopped at a marker inside the data (not at its end).
    fn inner_marker(&self) -> Option<u8> {
        let at = self.stopped_at?;
        let mut q = at;
        while self.data.get(q) == Some(&0xFF) {
            q += 1;
        }
        self.data.get(q).copied()
    }
}

/// Why a read failed.
#[derive(Debug, Clone, Copy)]
enum Short {
    /// The data ran out.
    End,
    /// An invalid Huffman code.
    Invalid,
}

enum RestartError {
    End,
    Wrong(u8),
}

/// What kind of scan, by its spectral selection and successive approximation.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Sequential,
    DcFirst,
    DcRefine,
    AcFirst,
    AcRefine,
}

/// A component of one scan.
struct ScanComponent {
    /// Index in the frame's components.
    index: usize,
    h: u32,
    v: u32,
    dc: Option<Huffman>,
    ac: Option<Huffman>,
    /// Blocks across and down of the component alone (non-interleaved order).
    blocks_wide: u64,
    blocks_high: u64,
}

fn check_scan(
    frame: &Frame,
    scan: &ScanSegment<'_>,
    state: &mut FrameState,
) -> Result<(), ScanError> {
    let corrupt = |what: String| ScanError::Corrupt(what);
    let header = scan.header;
    let ns = usize::from(
        *header
            .first()
            .ok_or_else(|| corrupt("empty scan header".into()))?,
    );
    if !(1..=4).contains(&ns) || header.len() != 1 + 2 * ns + 3 {
        return Err(corrupt(format!(
            "invalid scan header ({ns} components in {} bytes)",
            header.len()
        )));
    }
    let ss = header[1 + 2 * ns];
    let se = header[2 + 2 * ns];
    let ah = header[3 + 2 * ns] >> 4;
    let al = header[3 + 2 * ns] & 0x0F;
    let kind = if !frame.progressive {
        Kind::Sequential
    } else {
        let kind = match (ss, ah) {
            (0, 0) => Kind::DcFirst,
            (0, _) => Kind::DcRefine,
            (_, 0) => Kind::AcFirst,
            _ => Kind::AcRefine,
        };
        let valid = if ss == 0 {
            se == 0
        } else {
            ss <= se && se <= 63 && ns == 1
        };
        if !valid || al > 13 || ah > 13 {
            return Err(corrupt(format!(
                "invalid progressive parameters (Ss {ss}, Se {se}, Ah {ah}, Al {al}, {ns} components)"
            )));
        }
        kind
    };
    let h_max = frame
        .components
        .iter()
        .map(|c| u32::from(c.h))
        .max()
        .unwrap_or(1);
    let v_max = frame
        .components
        .iter()
        .map(|c| u32::from(c.v))
        .max()
        .unwrap_or(1);
    let mut components = Vec::with_capacity(ns);
    for i in 0..ns {
        let id = header[1 + 2 * i];
        let tables = header[2 + 2 * i];
        let index = frame
            .components
            .iter()
            .position(|c| c.id == id)
            .ok_or_else(|| corrupt(format!("the scan names component {id}, not in the frame")))?;
        if components.iter().any(|c: &ScanComponent| c.index == index) {
            return Err(corrupt(format!("the scan names component {id} twice")));
        }
        let needs_dc = matches!(kind, Kind::Sequential | Kind::DcFirst);
        let needs_ac = matches!(kind, Kind::Sequential | Kind::AcFirst | Kind::AcRefine);
        let table = |class: usize, id: u8| -> Result<Option<Huffman>, ScanError> {
            if id > 3 {
                return Err(ScanError::Corrupt(format!(
                    "invalid Huffman table number {id}"
                )));
            }
            let spec = scan.tables[class * 4 + usize::from(id)].ok_or_else(|| {
                ScanError::Corrupt(format!(
                    "the scan uses {} Huffman table {id}, which is not defined (a motion-JPEG \
                     frame relying on default tables is not supported)",
                    if class == 0 { "DC" } else { "AC" }
                ))
            })?;
            Huffman::new(spec).map(Some).map_err(ScanError::Corrupt)
        };
        let dc = if needs_dc {
            table(0, tables >> 4)?
        } else {
            None
        };
        let ac = if needs_ac {
            table(1, tables & 0x0F)?
        } else {
            None
        };
        let c = frame.components[index];
        let (h, v) = (u32::from(c.h), u32::from(c.v));
        let comp_width = (u64::from(frame.width) * u64::from(h)).div_ceil(u64::from(h_max));
        let comp_height = (u64::from(frame.height) * u64::from(v)).div_ceil(u64::from(v_max));
        components.push(ScanComponent {
            index,
            h,
            v,
            dc,
            ac,
            blocks_wide: comp_width.div_ceil(8),
            blocks_high: comp_height.div_ceil(8),
        });
    }

    // Bookkeeping of what is sent.
    for c in &components {
        match kind {
            Kind::Sequential => state.seen[c.index] = true,
            _ => {
                for k in usize::from(ss)..=usize::from(se) {
                    state.sent_to[c.index][k] = al;
                }
            }
        }
    }
    if matches!(kind, Kind::AcFirst | Kind::AcRefine) {
        let c = &components[0];
        let blocks = usize::try_from(c.blocks_wide * c.blocks_high)
            .map_err(|_| corrupt("too many blocks".into()))?;
        if state.nonzero[c.index].len() != blocks {
            state.nonzero[c.index] = vec![0; blocks];
        }
    }

    // The units: MCUs of an interleaved scan, blocks of a one-component scan.
    let (total, unit) = if ns == 1 {
        let c = &components[0];
        (c.blocks_wide * c.blocks_high, "block")
    } else {
        let across = u64::from(frame.width).div_ceil(8 * u64::from(h_max));
        let down = u64::from(frame.height).div_ceil(8 * u64::from(v_max));
        (across * down, "MCU")
    };
    let mut bits = Bits::new(scan.data);
    let restart = u64::from(scan.restart_interval);
    let mut next_rst = 0u8;
    let mut eobrun = 0u32;
    let mut done = 0u64;
    let out_of_data = |done: u64, bits: &Bits<'_>| -> ScanError {
        match bits.inner_marker() {
            Some(m @ 0xD0..=0xD7) => ScanError::Corrupt(format!(
                "a restart marker (FF {m:02X}) where image data was expected, after {done} of \
                 {total} {unit}s"
            )),
            _ => ScanError::OutOfData { done, total, unit },
        }
    };
    let short = |e: Short, done: u64, bits: &Bits<'_>| -> ScanError {
        if matches!(e, Short::Invalid) {
            ScanError::Corrupt(format!(
                "an invalid Huffman code after {done} of {total} {unit}s"
            ))
        } else {
            out_of_data(done, bits)
        }
    };
    while done < total {
        if restart > 0 && done > 0 && done.is_multiple_of(restart) {
            match bits.restart(next_rst) {
                Ok(()) => {}
                Err(RestartError::End) => return Err(ScanError::OutOfData { done, total, unit }),
                Err(RestartError::Wrong(m)) => {
                    return Err(corrupt(format!(
                        "restart marker FF {m:02X} where RST{next_rst} was expected, after {done} \
                         of {total} {unit}s"
                    )));
                }
            }
            next_rst = (next_rst + 1) & 7;
            eobrun = 0;
        }
        let result = if ns == 1 {
            let c = &components[0];
            let block = done as usize;
            decode_block(&mut bits, kind, c, ss, se, &mut eobrun, state, block)
        } else {
            let mut result = Ok(());
            'mcu: for c in &components {
                for _ in 0..c.h * c.v {
                    result = decode_block(&mut bits, kind, c, ss, se, &mut eobrun, state, 0);
                    if result.is_err() {
                        break 'mcu;
                    }
                }
            }
            result
        };
        match result {
            Ok(()) => {}
            Err(BlockError::Short(e)) => return Err(short(e, done, &bits)),
            Err(BlockError::Corrupt(what)) => {
                return Err(corrupt(format!("{what}, after {done} of {total} {unit}s")));
            }
        }
        done += 1;
    }
    let left = bits.left_over();
    if left > MAX_TRAILING_SCAN_BYTES {
        return Err(corrupt(format!(
            "{left} bytes of image data follow its last {unit} (the frame header does not \
             describe this data)"
        )));
    }
    Ok(())
}

enum BlockError {
    Short(Short),
    Corrupt(&'static str),
}

impl From<Short> for BlockError {
    fn from(e: Short) -> Self {
        BlockError::Short(e)
    }
}

/// Reads one block of a scan of `kind` (T.81 F.2.2 for sequential, G.1.2 for progressive).
#[allow(clippy::too_many_arguments)]
#[inline]
fn decode_block(
    bits: &mut Bits<'_>,
    kind: Kind,
    c: &ScanComponent,
    ss: u8,
    se: u8,
    eobrun: &mut u32,
    state: &mut FrameState,
    block: usize,
) -> Result<(), BlockError> {
    match kind {
        Kind::Sequential => {
            let (Some(dc), Some(ac)) = (&c.dc, &c.ac) else {
                return Err(BlockError::Corrupt("a missing Huffman table"));
            };
            dc_difference(bits, dc)?;
            let mut k = 1u32;
            while k < 64 {
                // The coefficient's bits are skipped with its symbol.
                let rs = bits.decode(ac)?;
                let (run, size) = (u32::from(rs >> 4), rs & 0x0F);
                if size == 0 {
                    if run != 15 {
                        break;
                    }
                    k += 16;
                } else {
                    k += run + 1;
                }
            }
            Ok(())
        }
        Kind::DcFirst => {
            let Some(dc) = &c.dc else {
                return Err(BlockError::Corrupt("a missing Huffman table"));
            };
            dc_difference(bits, dc)
        }
        Kind::DcRefine => Ok(bits.skip(1)?),
        Kind::AcFirst => {
            if *eobrun > 0 {
                *eobrun -= 1;
                return Ok(());
            }
            let Some(ac) = &c.ac else {
                return Err(BlockError::Corrupt("a missing Huffman table"));
            };
            let nonzero = &mut state.nonzero[c.index][block];
            let mut k = u32::from(ss);
            while k <= u32::from(se) {
                let rs = bits.decode(ac)?;
                let (run, size) = (u32::from(rs >> 4), rs & 0x0F);
                if size == 0 {
                    if run < 15 {
                        *eobrun = (1 << run) + bits.get(run)? - 1;
                        break;
                    }
                    k += 16;
                } else {
                    k += run;
                    if k < 64 {
                        *nonzero |= 1 << k;
                    }
                    k += 1;
                }
            }
            Ok(())
        }
        Kind::AcRefine => {
            let Some(ac) = &c.ac else {
                return Err(BlockError::Corrupt("a missing Huffman table"));
            };
            let nonzero = &mut state.nonzero[c.index][block];
            let se = u32::from(se);
            let mut k = u32::from(ss);
            if *eobrun == 0 {
                while k <= se {
                    let rs = bits.decode(ac)?;
                    let (mut run, size) = (i32::from(rs >> 4), rs & 0x0F);
                    // A new coefficient's sign bit is skipped with its symbol.
                    let new_coefficient = size != 0;
                    if new_coefficient {
                        if size != 1 {
                            return Err(BlockError::Corrupt(
                                "a refinement scan codes a coefficient of more than one bit",
                            ));
                        }
                    } else if run != 15 {
                        *eobrun = (1 << run) + bits.get(run as u32)?;
                        break;
                    }
                    // Skip `run` zero coefficients, reading a correction bit for each
                    // non-zero one passed.
                    while k <= se {
                        if *nonzero & (1 << k) != 0 {
                            bits.skip(1)?;
                        } else {
                            if run == 0 {
                                break;
                            }
                            run -= 1;
                        }
                        k += 1;
                    }
                    if new_coefficient && k < 64 {
                        *nonzero |= 1 << k;
                    }
                    k += 1;
                }
            }
            if *eobrun > 0 {
                // Inside an end-of-band run: correction bits of the remaining non-zero
                // coefficients of the band.
                while k <= se {
                    if *nonzero & (1 << k) != 0 {
                        bits.skip(1)?;
                    }
                    k += 1;
                }
                *eobrun -= 1;
            }
            Ok(())
        }
    }
}

/// A DC difference: its category, then that many bits (skipped with the symbol).
#[inline]
fn dc_difference(bits: &mut Bits<'_>, dc: &Huffman) -> Result<(), BlockError> {
    let size = bits.decode(dc)?;
    if size > 15 {
        return Err(BlockError::Corrupt("an invalid DC difference category"));
    }
    Ok(())
}
