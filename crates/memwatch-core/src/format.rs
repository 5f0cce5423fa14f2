//! Human-readable sizes and durations, in memwatch's exact text format.
//!
//! These strings end up in `HeapDiff` results and in the 'leak' event's `reason`, where existing
//! user code and tests compare them literally, so the rules here follow the original memwatch to
//! the character (see `REFERENCE.md`, "Size text" and "Duration text"). Unlike the original, every
//! input is 64-bit or floating point: nothing overflows at 2 GiB.

/// Formats a byte count (or a byte rate) the way memwatch does.
///
/// Above 1 MiB in magnitude: megabytes with two decimals (`1.78 mb`); above 1 KiB: kilobytes with
/// two decimals (`65.12 kb`); else plain bytes (`1024 bytes`). Negative values keep their sign.
pub fn nice_size(bytes: f64) -> String {
    if !bytes.is_finite() {
        // Only reachable through a caller bug; print something honest rather than "inf mb".
        return format!("{} bytes", bytes);
    }
    let magnitude = bytes.abs();
    if magnitude > 1_048_576.0 {
        format!("{} mb", significant((bytes / 10_485.76).round() / 100.0))
    } else if magnitude > 1024.0 {
        format!("{} kb", significant((bytes / 10.24).round() / 100.0))
    } else {
        format!("{} bytes", significant(bytes))
    }
}

/// Formats an integer byte count; see [`nice_size`].
pub fn nice_size_bytes(bytes: i64) -> String {
    nice_size(bytes as f64)
}

/// Formats a duration in whole seconds as memwatch does: `1h 1m 1s`, `60s`.
///
/// Hours appear when the total is over 3600 s, minutes when the remainder is over 60 s.
pub fn nice_delta(seconds: u64) -> String {
    let mut out = String::new();
    let mut rest = seconds;
    if rest > 3600 {
        out.push_str(&format!("{}h ", rest / 3600));
        rest %= 3600;
    }
    if rest > 60 {
        out.push_str(&format!("{}m ", rest / 60));
        rest %= 60;
    }
    out.push_str(&format!("{}s", rest));
    out
}

/// A duration for people, to its two largest units: `450ms`, `41s`, `12m 5s`, `3h 12m`, `4d 3h`;
/// `never` for an infinite one. Used where precision below that would be noise (time to a heap
/// limit). Under a second it is in milliseconds: a harness's leak grows in `450ms`, not `0s`.
pub fn nice_duration_short(seconds: f64) -> String {
    if !seconds.is_finite() {
        return "never".to_string();
    }
    if seconds < 0.9995 {
        return format!("{}ms", (seconds.max(0.0) * 1000.0).round() as u64);
    }
    let s = seconds.max(0.0).round() as u64;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m {}s", s / 60, s % 60),
        3600..=86_399 => format!("{}h {}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d {}h", s / 86_400, s % 86_400 / 3600),
    }
}

/// Prints a number with at most six significant digits and no trailing zeros, like a C++ stream
/// with its default precision, except that large values are never put in exponent form.
fn significant(value: f64) -> String {
    if value == 0.0 {
        return "0".to_string();
    }
    let magnitude = value.abs();
    if magnitude >= 1e6 {
        return format!("{}", value.round() as i128);
    }
    let digits_before_point = magnitude.log10().floor() as i32 + 1;
    let decimals = (6 - digits_before_point).clamp(0, 17) as usize;
    let text = format!("{:.*}", decimals, value);
    let text = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    };
    if text == "-0" {
        "0".to_string()
    } else {
        text
    }
}

/// Text for a terminal: characters that steer it rather than print (C0 controls but newline and
/// tab, DEL, C1 controls, and the bidirectional overrides that can reorder what a line shows)
/// become visible escapes (`\x1b`, `\u{202e}`). Snapshot names come from the program that was
/// snapshotted: a class or property named `ESC [2J` must not clear the screen of whoever runs
/// `analyze`. JSON output stays exact; this is for text only.
pub fn terminal_safe(text: String) -> String {
    fn steers(c: char) -> bool {
        (c.is_control() && c != '\n' && c != '\t') || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    }
    if !text.chars().any(steers) {
        return text;
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            c if steers(c) && (c as u32) < 0x80 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if steers(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// A name from a heap (a class, a property, a script URL) for one line of text: its line breaks
/// become `\n` / `\r`, so a class named `"Fake\nsuspect: ..."` cannot add a line that looks like
/// a finding. The text as a whole then goes through [`terminal_safe`]; JSON keeps names exact.
pub fn one_line(name: &str) -> std::borrow::Cow<'_, str> {
    if !name.contains(['\n', '\r', '\u{2028}', '\u{2029}']) {
        return std::borrow::Cow::Borrowed(name);
    }
    std::borrow::Cow::Owned(name.replace('\n', "\\n").replace('\r', "\\r").replace('\u{2028}', "\\u{2028}").replace('\u{2029}', "\\u{2029}"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn one_line_keeps_a_name_on_its_line() {
        assert_eq!(super::one_line("Fake\nsuspect: Totally @1"), "Fake\\nsuspect: Totally @1");
        assert_eq!(super::one_line("a\r\nb\u{2028}c"), "a\\r\\nb\\u{2028}c");
        assert!(matches!(super::one_line("Plain"), std::borrow::Cow::Borrowed(_)));
    }

    #[test]
    fn terminal_safe_shows_controls_as_escapes_and_keeps_lines() {
        assert_eq!(terminal_safe("a\tb\nc".to_string()), "a\tb\nc");
        assert_eq!(terminal_safe("x\u{1b}[2Jy\u{7}".to_string()), "x\\x1b[2Jy\\x07");
        assert_eq!(terminal_safe("\u{1b}]0;pwned\u{9c}".to_string()), "\\x1b]0;pwned\\u{9c}");
        assert_eq!(terminal_safe("evil\u{202e}txt.js".to_string()), "evil\\u{202e}txt.js");
        assert_eq!(terminal_safe("Größe ✓".to_string()), "Größe ✓");
    }

    use super::*;

    #[test]
    fn sizes_match_memwatch_text() {
        let cases: &[(i64, &str)] = &[
            (0, "0 bytes"),
            (512, "512 bytes"),
            (1024, "1024 bytes"),
            (1025, "1 kb"),
            (1536, "1.5 kb"),
            (-2120, "-2.07 kb"),
            (66687, "65.12 kb"),
            (249232, "243.39 kb"),
            (1048576, "1024 kb"),
            (1869904, "1.78 mb"),
            (-500, "-500 bytes"),
        ];
        for &(bytes, text) in cases {
            assert_eq!(nice_size_bytes(bytes), text, "for {bytes}");
        }
    }

    #[test]
    fn huge_sizes_do_not_overflow_or_use_exponents() {
        // 2^31 bytes/hr was where the original printed -2147483648.
        assert_eq!(nice_size(2_147_483_648.0), "2048 mb");
        assert_eq!(nice_size(40.0 * 1024.0 * 1024.0 * 1024.0), "40960 mb");
        assert_eq!(nice_size(1e15), "953674316 mb");
        assert_eq!(nice_size(-3.0 * 1024.0 * 1024.0 * 1024.0 * 1024.0), "-3145728 mb");
    }

    #[test]
    fn fractional_rates_keep_six_significant_digits() {
        assert_eq!(nice_size(0.5), "0.5 bytes");
        assert_eq!(nice_size(123.456789), "123.457 bytes");
    }

    #[test]
    fn short_durations_say_milliseconds_under_a_second() {
        assert_eq!(nice_duration_short(0.0), "0ms");
        assert_eq!(nice_duration_short(0.45), "450ms");
        assert_eq!(nice_duration_short(0.9996), "1s");
        assert_eq!(nice_duration_short(41.2), "41s");
        assert_eq!(nice_duration_short(725.0), "12m 5s");
        assert_eq!(nice_duration_short(f64::INFINITY), "never");
    }

    #[test]
    fn durations_match_memwatch_text() {
        let cases: &[(u64, &str)] = &[
            (0, "0s"),
            (20, "20s"),
            (60, "60s"),
            (61, "1m 1s"),
            (3600, "60m 0s"),
            (3601, "1h 1s"),
            (3661, "1h 1m 1s"),
            (90061, "25h 1m 1s"),
        ];
        for &(secs, text) in cases {
            assert_eq!(nice_delta(secs), text, "for {secs}");
        }
    }
}
