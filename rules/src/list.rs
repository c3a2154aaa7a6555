//! List-valued configuration entries: a JSON array of strings, or
//! comma-separated text.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::iter::Peekable;
use core::str::Chars;

/// Splits a configuration value into a list of strings.
///
/// Accepts either a comma-separated string (`"a, b,c"`) or a JSON array of
/// strings (`["a", "b", "c"]`, which is how the host answers a JSON array).
/// Items are trimmed and empty items dropped. A value that starts with `[`
/// but is not a valid JSON array of strings is split on commas like any
/// other string.
pub fn parse_list(value: &str) -> Vec<String> {
    let trimmed = value.trim();
    if trimmed.starts_with('[')
        && let Some(items) = parse_json_string_array(trimmed)
    {
        return items.into_iter().map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
    }
    trimmed.split(',').map(str::trim).filter(|s| !s.is_empty()).map(ToString::to_string).collect()
}

/// Parses a JSON array whose elements are all strings (RFC 8259: JSON's four
/// whitespace characters, no raw control characters in strings, escaped
/// surrogate pairs joined, a lone surrogate refused); `None` for anything else.
fn parse_json_string_array(text: &str) -> Option<Vec<String>> {
    let mut chars = text.chars().peekable();
    let mut items = Vec::new();
    if chars.next()? != '[' {
        return None;
    }
    skip_ws(&mut chars);
    if chars.peek() == Some(&']') {
        chars.next();
    } else {
        loop {
            skip_ws(&mut chars);
            if chars.next()? != '"' {
                return None;
            }
            items.push(parse_string_body(&mut chars)?);
            skip_ws(&mut chars);
            match chars.next()? {
                ',' => continue,
                ']' => break,
                _ => return None,
            }
        }
    }
    skip_ws(&mut chars);
    if chars.next().is_some() {
        return None;
    }
    Some(items)
}

fn skip_ws(chars: &mut Peekable<Chars<'_>>) {
    while chars.peek().is_some_and(|c| matches!(c, ' ' | '\t' | '\n' | '\r')) {
        chars.next();
    }
}

/// The rest of a JSON string after its opening quote, up to and including
/// the closing one.
fn parse_string_body(chars: &mut Peekable<Chars<'_>>) -> Option<String> {
    let mut item = String::new();
    loop {
        match chars.next()? {
            '"' => return Some(item),
            '\\' => match chars.next()? {
                '"' => item.push('"'),
                '\\' => item.push('\\'),
                '/' => item.push('/'),
                'b' => item.push('\u{8}'),
                'f' => item.push('\u{c}'),
                'n' => item.push('\n'),
                'r' => item.push('\r'),
                't' => item.push('\t'),
                'u' => item.push(parse_unicode_escape(chars)?),
                _ => return None,
            },
            c if c < ' ' => return None,
            c => item.push(c),
        }
    }
}

/// The character of a `\uXXXX` escape (the `\u` already read), joining a
/// surrogate pair written as two escapes.
fn parse_unicode_escape(chars: &mut Peekable<Chars<'_>>) -> Option<char> {
    let first = hex4(chars)?;
    if !(0xD800..0xDC00).contains(&first) {
        return char::from_u32(first);
    }
    if chars.next()? != '\\' || chars.next()? != 'u' {
        return None;
    }
    let second = hex4(chars)?;
    if !(0xDC00..0xE000).contains(&second) {
        return None;
    }
    char::from_u32(0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00))
}

fn hex4(chars: &mut Peekable<Chars<'_>>) -> Option<u32> {
    let mut code = 0u32;
    for _ in 0..4 {
        code = code * 16 + chars.next()?.to_digit(16)?;
    }
    Some(code)
}

#[cfg(test)]
mod tests {
    use alloc::vec::Vec;

    use super::parse_list;

    #[test]
    fn parses_comma_lists_and_json_arrays() {
        let none: Vec<&str> = Vec::new();
        for (value, items) in [
            (" a, b ,,c ", Vec::from(["a", "b", "c"])),
            (r#"["a", " b", "c,d", "\u0041\"x"]"#, Vec::from(["a", "b", "c,d", "A\"x"])),
            (r#"["\ud83d\ude00", "\u00e9"]"#, Vec::from(["😀", "é"])),
            ("[ ]", none.clone()),
            ("", none.clone()),
            // Not a JSON array of strings: split on commas like any string.
            ("[1, 2]", Vec::from(["[1", "2]"])),
            (r#"["a",]"#, Vec::from([r#"["a""#, "]"])),
            (r#"["\ud800"]"#, Vec::from([r#"["\ud800"]"#])),
            ("[\"a\u{1}\"]", Vec::from(["[\"a\u{1}\"]"])),
        ] {
            assert_eq!(parse_list(value), items, "{value:?}");
        }
    }
}
