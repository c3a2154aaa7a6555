//! The canonical forms of identifiers, and the hygiene every stored string
//! keeps: one function for each, called wherever such a value enters (an
//! admin request, a principal, a plugin's decision, the store).
//!
//! - **Email domains** go through IDNA (UTS 46, with the STD3 rules and DNS
//!   length checks of the `idna` crate) to their lower-case ASCII form:
//!   `Bücher.Example` and `xn--bcher-kva.example` are one domain. A trailing
//!   dot is dropped; a single label (`localhost`, `*`, `.`) is refused.
//! - **Emails** are `local@domain` with the domain canonical as above. In the
//!   local part, ASCII letters are lower-cased; a non-ASCII character is
//!   lower-cased only when its lower case has no ASCII character in it, and
//!   kept as sent otherwise, so that no non-ASCII character ever folds into
//!   ASCII (`K`, the Kelvin sign, is never `k`; `İ` is never `i̇`). No
//!   Unicode normalization is applied, for the same reason (NFC turns the
//!   Kelvin sign into `K`).
//! - **Text** that is stored or shown (names, subjects, groups, claims,
//!   attributes, team and role names, denial messages) holds no control
//!   character (NUL included) and no invisible format character:
//!   bidirectional controls, zero-width characters, line and paragraph
//!   separators, the byte-order mark, tag characters.

use std::fmt;

/// Most bytes in an email address.
pub const MAX_EMAIL_BYTES: usize = 320;
/// Most bytes in an email's local part (RFC 5321).
pub const MAX_LOCAL_PART_BYTES: usize = 64;

/// Why an email or email domain has no canonical form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdentifierError {
    /// Not of the form `local@domain`.
    #[error("not an email address")]
    NotAnEmail,
    /// Longer than allowed.
    #[error("longer than {0} bytes")]
    TooLong(usize),
    /// The domain is not a valid internationalized domain name.
    #[error("not a valid domain name")]
    InvalidDomain,
    /// The domain has a single label (`localhost`, `*`).
    #[error("a domain needs at least two labels (like example.com)")]
    SingleLabel,
    /// The local part holds a character no address may hold.
    #[error("the local part holds a character that is not allowed")]
    InvalidLocalPart,
}

/// Why a text value may not be stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TextError {
    /// A control character (NUL included).
    #[error("contains a control character (U+{0:04X})")]
    Control(u32),
    /// An invisible format character (bidirectional control, zero-width
    /// character, line or paragraph separator, byte-order mark, tag).
    #[error("contains an invisible formatting character (U+{0:04X})")]
    Format(u32),
}

impl TextError {
    /// The stable rule name a refusal is audited under.
    pub fn rule(&self) -> &'static str {
        match self {
            Self::Control(_) => "control-character",
            Self::Format(_) => "format-character",
        }
    }
}

/// An email domain's canonical form: IDNA ASCII, lower case, at least two
/// labels, no trailing dot.
pub fn email_domain(input: &str) -> Result<String, IdentifierError> {
    let trimmed = input.trim();
    let trimmed = trimmed.strip_suffix('.').unwrap_or(trimmed);
    if trimmed.is_empty() || trimmed.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(IdentifierError::InvalidDomain);
    }
    let ascii = idna::domain_to_ascii_strict(trimmed).map_err(|_| IdentifierError::InvalidDomain)?;
    if ascii.is_empty() || ascii.split('.').any(str::is_empty) {
        return Err(IdentifierError::InvalidDomain);
    }
    if !ascii.contains('.') {
        return Err(IdentifierError::SingleLabel);
    }
    Ok(ascii.to_ascii_lowercase())
}

/// An email's canonical form (see the module documentation).
pub fn email(input: &str) -> Result<String, IdentifierError> {
    let trimmed = input.trim();
    if trimmed.len() > MAX_EMAIL_BYTES {
        return Err(IdentifierError::TooLong(MAX_EMAIL_BYTES));
    }
    let (local, domain) = trimmed.rsplit_once('@').ok_or(IdentifierError::NotAnEmail)?;
    if local.is_empty() {
        return Err(IdentifierError::NotAnEmail);
    }
    if local.len() > MAX_LOCAL_PART_BYTES {
        return Err(IdentifierError::TooLong(MAX_LOCAL_PART_BYTES));
    }
    if local.chars().any(|c| c == '@' || c.is_whitespace() || text_problem(c).is_some()) {
        return Err(IdentifierError::InvalidLocalPart);
    }
    let domain = email_domain(domain)?;
    let mut canonical = String::with_capacity(trimmed.len());
    for c in local.chars() {
        push_lower(&mut canonical, c);
    }
    canonical.push('@');
    canonical.push_str(&domain);
    Ok(canonical)
}

/// The form an email is looked up by: its canonical form, or, when it has
/// none, the trimmed input (which then matches nothing stored, since only
/// canonical emails are stored).
pub fn normalize_email(input: &str) -> String {
    email(input).unwrap_or_else(|_| input.trim().to_owned())
}

/// The email domain of a canonical email.
pub fn domain_of(email: &str) -> Option<&str> {
    email.rsplit_once('@').map(|(_, d)| d)
}

/// Lower-cases `c` unless its lower case would contain an ASCII character
/// that `c` is not.
fn push_lower(out: &mut String, c: char) {
    if c.is_ascii() {
        out.push(c.to_ascii_lowercase());
        return;
    }
    let lower: String = c.to_lowercase().collect();
    if lower.is_ascii() || lower.chars().any(|l| l.is_ascii()) {
        out.push(c);
    } else {
        out.push_str(&lower);
    }
}

/// Checks that a text value may be stored and shown.
pub fn text(value: &str) -> Result<(), TextError> {
    match value.chars().find_map(text_problem) {
        Some(problem) => Err(problem),
        None => Ok(()),
    }
}

/// What is wrong with one character, if anything.
fn text_problem(c: char) -> Option<TextError> {
    let code = u32::from(c);
    if c.is_control() {
        return Some(TextError::Control(code));
    }
    let format = matches!(code,
        0x00AD            // soft hyphen
        | 0x061C          // Arabic letter mark
        | 0x180E          // Mongolian vowel separator
        | 0x200B..=0x200F // zero-width space, joiners, left-to-right and right-to-left marks
        | 0x2028..=0x202E // line and paragraph separators, bidirectional embeddings and overrides
        | 0x2060..=0x206F // word joiner, invisible operators, bidirectional isolates, deprecated controls
        | 0xFEFF          // byte-order mark, zero-width no-break space
        | 0xFFF9..=0xFFFB // interlinear annotation controls
        | 0xE0000..=0xE007F // tag characters
    );
    format.then_some(TextError::Format(code))
}

/// Shows a value with every control and format character made visible
/// (`\u{202e}`), for logs and terminals.
pub fn escaped(value: &str) -> impl fmt::Display + '_ {
    struct Escaped<'a>(&'a str);
    impl fmt::Display for Escaped<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            for c in self.0.chars() {
                match text_problem(c) {
                    Some(_) => write!(f, "\\u{{{:x}}}", u32::from(c))?,
                    None => fmt::Write::write_char(f, c)?,
                }
            }
            Ok(())
        }
    }
    Escaped(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_domains_have_one_form() {
        let cases = [
            ("Example.COM", Ok("example.com")),
            (" example.com. ", Ok("example.com")),
            ("bücher.example", Ok("xn--bcher-kva.example")),
            ("BÜCHER.example", Ok("xn--bcher-kva.example")),
            ("xn--bcher-kva.example", Ok("xn--bcher-kva.example")),
            ("*", Err(IdentifierError::InvalidDomain)),
            (".", Err(IdentifierError::InvalidDomain)),
            ("", Err(IdentifierError::InvalidDomain)),
            ("localhost", Err(IdentifierError::SingleLabel)),
            ("a..b", Err(IdentifierError::InvalidDomain)),
            ("exa mple.com", Err(IdentifierError::InvalidDomain)),
            ("*.example.com", Err(IdentifierError::InvalidDomain)),
            ("ex_ample.com", Err(IdentifierError::InvalidDomain)),
        ];
        for (input, want) in cases {
            assert_eq!(email_domain(input).as_deref().map_err(Clone::clone), want, "{input:?}");
        }
    }

    #[test]
    fn emails_have_one_form_and_nothing_folds_into_ascii() {
        assert_eq!(email(" Jane.Doe@Bücher.Example ").as_deref(), Ok("jane.doe@xn--bcher-kva.example"));
        assert_eq!(email("jane@xn--bcher-kva.example").as_deref(), Ok("jane@xn--bcher-kva.example"));
        assert_eq!(email("JÖRG@example.com").as_deref(), Ok("jörg@example.com"));
        // The Kelvin sign lower-cases to an ASCII `k`: it is kept.
        assert_eq!(email("\u{212A}ate@example.com").as_deref(), Ok("\u{212A}ate@example.com"));
        assert_ne!(email("\u{212A}ate@example.com"), email("kate@example.com"));
        // A capital I with a dot lower-cases to `i` and a combining dot.
        assert_eq!(email("\u{130}van@example.com").as_deref(), Ok("\u{130}van@example.com"));
        for bad in ["jane", "@example.com", "jane@", "ja ne@example.com", "a\u{0}b@example.com", "a\u{202e}b@x.com"] {
            assert!(email(bad).is_err(), "{bad:?}");
        }
        assert_eq!(email(&format!("{}@example.com", "a".repeat(65))), Err(IdentifierError::TooLong(64)));
    }

    #[test]
    fn text_refuses_controls_and_invisible_characters() {
        assert_eq!(text("Jane O'Brien-Ünal"), Ok(()));
        assert_eq!(text("a\u{0}b"), Err(TextError::Control(0)));
        assert_eq!(text("line\nbreak"), Err(TextError::Control(10)));
        for c in ['\u{202E}', '\u{200B}', '\u{FEFF}', '\u{2028}', '\u{2066}', '\u{E0041}'] {
            assert_eq!(text(&format!("x{c}y")), Err(TextError::Format(u32::from(c))), "{:x}", u32::from(c));
        }
        assert_eq!(escaped("a\u{1b}[2Jb\u{202e}").to_string(), "a\\u{1b}[2Jb\\u{202e}");
    }
}
