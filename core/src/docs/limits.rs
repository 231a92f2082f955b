//! Input limits of documents written by people (phones and the supervisors' console): the
//! same bounds wherever a text enters a document.

/// Longest free text accepted (findings, statements, facts, legal basis, comments, checklist
/// notes), characters. About two pages of Chinese; bounded so that one document stays far
/// below the server's message limit and setting a whole new text (diffed against the old one)
/// stays quick.
pub const MAX_TEXT_CHARS: usize = 4_000;

/// Longest short text accepted (place, names, captions, review bodies, reasons, stage notes),
/// characters.
pub const MAX_SHORT_TEXT_CHARS: usize = 200;

/// Most officers on one on-site record or notice.
pub const MAX_OFFICERS: usize = 20;

/// Most reasons of one returned review.
pub const MAX_REASONS: usize = 20;

/// Longest identifier accepted (document ids, plates, codes, hashes, dates), bytes of UTF-8:
/// checked before any parsing.
pub const MAX_ID_CHARS: usize = 128;
