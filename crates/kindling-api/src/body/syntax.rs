//! JSON syntax as Go's `encoding/json` checks it before decoding anything, with its messages:
//! `unexpected end of JSON input`, `invalid character 'a' looking for beginning of value`,
//! `invalid character '}' after object key` …. kube-apiserver's decoding of a request body
//! starts with such a check, so a malformed body is reported in these words.

/// What the scanner expects next.
#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    /// A value (top level, after `:` or `,` in an array).
    Value,
    /// A value or `]` (just after `[`).
    ValueOrEmpty,
    /// A key string or `}` (just after `{`).
    KeyOrEmpty,
    /// A key string (after `,` in an object).
    Key,
    /// Whatever may follow a complete value.
    AfterValue,
    /// Only blanks: the top-level value is complete.
    End,
    InString,
    InEscape,
    /// Inside `\u`, with this many hex digits read.
    InUnicode(u8),
    /// After `-`.
    Minus,
    /// After a leading `0`.
    Zero,
    /// In the integer digits after a leading 1-9.
    Digits,
    /// After `.`.
    Dot,
    /// In the fraction digits.
    Fraction,
    /// After `e` or `E`.
    Exponent,
    /// After the exponent's sign.
    ExponentSign,
    /// In the exponent digits.
    ExponentDigits,
    /// In a literal: `true`, `false` or `null`, with this many bytes matched.
    Literal(&'static str, u8),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Container {
    /// Expecting `:` after a key.
    ObjectKey,
    /// After a member's value: `,` or `}`.
    ObjectValue,
    /// After an element: `,` or `]`.
    Array,
}

/// Go's nesting limit.
const MAX_DEPTH: usize = 10_000;

/// The message Go's decoder gives for `data` if it is not one well-formed JSON value.
pub fn syntax_error(data: &[u8]) -> Option<String> {
    let mut s = Scanner {
        state: State::Value,
        stack: Vec::new(),
    };
    for &c in data {
        if let Err(e) = s.step(c) {
            return Some(e);
        }
    }
    // At the end the value must be complete; a number is completed by what follows it.
    match s.step(b' ') {
        Err(e) => Some(e),
        Ok(()) if s.state == State::End => None,
        Ok(()) => Some("unexpected end of JSON input".to_string()),
    }
}

struct Scanner {
    state: State,
    stack: Vec<Container>,
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

impl Scanner {
    /// Feeds one byte; the error is Go's message.
    fn step(&mut self, c: u8) -> Result<(), String> {
        use State::*;
        self.state = match self.state {
            Value | ValueOrEmpty if is_space(c) => self.state,
            ValueOrEmpty if c == b']' => {
                self.stack.pop();
                self.done()
            }
            Value | ValueOrEmpty => self.begin_value(c)?,
            KeyOrEmpty | Key if is_space(c) => self.state,
            // `{}`: no member, no frame was pushed.
            KeyOrEmpty if c == b'}' => self.done(),
            KeyOrEmpty | Key if c == b'"' => {
                self.stack.push(Container::ObjectKey);
                InString
            }
            KeyOrEmpty | Key => return fail(c, "looking for beginning of object key string"),
            AfterValue => return self.after_value(c),
            End if is_space(c) => End,
            End => return fail(c, "after top-level value"),
            InString if c == b'"' => AfterValue,
            InString if c == b'\\' => InEscape,
            InString if c < 0x20 => return fail(c, "in string literal"),
            InString => InString,
            InEscape if b"bfnrt\\/\"".contains(&c) => InString,
            InEscape if c == b'u' => InUnicode(0),
            InEscape => return fail(c, "in string escape code"),
            InUnicode(n) if c.is_ascii_hexdigit() => {
                if n == 3 {
                    InString
                } else {
                    InUnicode(n + 1)
                }
            }
            InUnicode(_) => return fail(c, "in \\u hexadecimal character escape"),
            Minus if c == b'0' => Zero,
            Minus if c.is_ascii_digit() => Digits,
            Minus => return fail(c, "in numeric literal"),
            Digits if c.is_ascii_digit() => Digits,
            Digits | Zero if c == b'.' => Dot,
            Digits | Zero if c == b'e' || c == b'E' => Exponent,
            Digits | Zero => return self.after_value(c),
            Dot if c.is_ascii_digit() => Fraction,
            Dot => return fail(c, "after decimal point in numeric literal"),
            Fraction if c.is_ascii_digit() => Fraction,
            Fraction if c == b'e' || c == b'E' => Exponent,
            Fraction => return self.after_value(c),
            Exponent if c == b'+' || c == b'-' => ExponentSign,
            Exponent | ExponentSign if c.is_ascii_digit() => ExponentDigits,
            Exponent | ExponentSign => return fail(c, "in exponent of numeric literal"),
            ExponentDigits if c.is_ascii_digit() => ExponentDigits,
            ExponentDigits => return self.after_value(c),
            Literal(word, n) => {
                let want = word.as_bytes()[n as usize];
                if c != want {
                    return fail(
                        c,
                        &format!("in literal {word} (expecting {})", quote_char(want)),
                    );
                }
                if n as usize + 1 == word.len() {
                    AfterValue
                } else {
                    Literal(word, n + 1)
                }
            }
        };
        Ok(())
    }

    fn begin_value(&mut self, c: u8) -> Result<State, String> {
        Ok(match c {
            b'{' | b'[' if self.stack.len() >= MAX_DEPTH => {
                return Err("exceeded max depth".to_string())
            }
            b'{' => State::KeyOrEmpty,
            b'[' => {
                self.stack.push(Container::Array);
                State::ValueOrEmpty
            }
            b'"' => State::InString,
            b'-' => State::Minus,
            b'0' => State::Zero,
            b'1'..=b'9' => State::Digits,
            b't' => State::Literal("true", 1),
            b'f' => State::Literal("false", 1),
            b'n' => State::Literal("null", 1),
            _ => return fail(c, "looking for beginning of value"),
        })
    }

    fn done(&self) -> State {
        if self.stack.is_empty() {
            State::End
        } else {
            State::AfterValue
        }
    }

    fn after_value(&mut self, c: u8) -> Result<(), String> {
        let Some(&top) = self.stack.last() else {
            self.state = State::End;
            return self.step(c);
        };
        if is_space(c) {
            self.state = State::AfterValue;
            return Ok(());
        }
        self.state = match (top, c) {
            (Container::ObjectKey, b':') => {
                self.stack.pop();
                self.stack.push(Container::ObjectValue);
                State::Value
            }
            (Container::ObjectKey, _) => return fail(c, "after object key"),
            (Container::ObjectValue, b',') => {
                self.stack.pop();
                State::Key
            }
            (Container::ObjectValue, b'}') => {
                self.stack.pop();
                self.done()
            }
            (Container::ObjectValue, _) => return fail(c, "after object key:value pair"),
            (Container::Array, b',') => State::Value,
            (Container::Array, b']') => {
                self.stack.pop();
                self.done()
            }
            (Container::Array, _) => return fail(c, "after array element"),
        };
        Ok(())
    }
}

fn fail<T>(c: u8, context: &str) -> Result<T, String> {
    Err(format!("invalid character {} {context}", quote_char(c)))
}

/// A byte as Go's scanner quotes it: the byte taken as a code point, in single quotes,
/// escaped as `strconv.Quote` escapes it.
fn quote_char(c: u8) -> String {
    let inner = match c {
        b'\'' => "\\'".to_string(),
        b'"' => "\"".to_string(),
        b'\\' => "\\\\".to_string(),
        0x07 => "\\a".into(),
        0x08 => "\\b".into(),
        0x0c => "\\f".into(),
        b'\n' => "\\n".into(),
        b'\r' => "\\r".into(),
        b'\t' => "\\t".into(),
        0x0b => "\\v".into(),
        c if c < 0x20 || c == 0x7f => format!("\\x{c:02x}"),
        // C1 controls, no-break space and soft hyphen are not printable to Go.
        c if (0x80..=0xa0).contains(&c) || c == 0xad => format!("\\u{c:04x}"),
        c => char::from(c).to_string(),
    };
    format!("'{inner}'")
}

#[cfg(test)]
mod tests {
    use super::syntax_error;

    /// Go's messages, as `json.Unmarshal` gives them for each input.
    #[test]
    fn messages_are_gos() {
        let cases: &[(&str, Option<&str>)] = &[
            (
                r#"{"a":[1,2,{"b":null}],"c":"d\u00e9\n","e":-0.5e+3}"#,
                None,
            ),
            ("  [] ", None),
            ("123", None),
            ("0", None),
            ("", Some("unexpected end of JSON input")),
            ("   ", Some("unexpected end of JSON input")),
            (r#"{"a":"#, Some("unexpected end of JSON input")),
            ("[1,", Some("unexpected end of JSON input")),
            // Go completes a number or literal at the end with a blank, and says so.
            ("-", Some("invalid character ' ' in numeric literal")),
            (
                "1.",
                Some("invalid character ' ' after decimal point in numeric literal"),
            ),
            (
                "apiVersion: v1\nkind: Namespace",
                Some("invalid character 'a' looking for beginning of value"),
            ),
            (
                "{a:1}",
                Some("invalid character 'a' looking for beginning of object key string"),
            ),
            (r#"{"a" 1}"#, Some("invalid character '1' after object key")),
            (
                r#"{"a":1 "b":2}"#,
                Some("invalid character '\"' after object key:value pair"),
            ),
            ("[1 2]", Some("invalid character '2' after array element")),
            ("{}x", Some("invalid character 'x' after top-level value")),
            ("1 2", Some("invalid character '2' after top-level value")),
            (
                "[1,]",
                Some("invalid character ']' looking for beginning of value"),
            ),
            (
                "{\"a\":1,}",
                Some("invalid character '}' looking for beginning of object key string"),
            ),
            (
                "\"a\nb\"",
                Some("invalid character '\\n' in string literal"),
            ),
            (
                r#""\x""#,
                Some("invalid character 'x' in string escape code"),
            ),
            (
                r#""\u12g4""#,
                Some("invalid character 'g' in \\u hexadecimal character escape"),
            ),
            ("01", Some("invalid character '1' after top-level value")),
            ("-a", Some("invalid character 'a' in numeric literal")),
            (
                "1.x",
                Some("invalid character 'x' after decimal point in numeric literal"),
            ),
            (
                "1ex",
                Some("invalid character 'x' in exponent of numeric literal"),
            ),
            (
                "tru",
                Some("invalid character ' ' in literal true (expecting 'e')"),
            ),
            (
                "trUe",
                Some("invalid character 'U' in literal true (expecting 'u')"),
            ),
            (
                "nul1",
                Some("invalid character '1' in literal null (expecting 'l')"),
            ),
            (
                "fals",
                Some("invalid character ' ' in literal false (expecting 'e')"),
            ),
            (
                "'a'",
                Some("invalid character '\\'' looking for beginning of value"),
            ),
            (
                "\u{1}",
                Some("invalid character '\\x01' looking for beginning of value"),
            ),
            ("[1]]", Some("invalid character ']' after top-level value")),
            (
                r#"{"a":{}}}"#,
                Some("invalid character '}' after top-level value"),
            ),
        ];
        for (input, want) in cases {
            assert_eq!(
                syntax_error(input.as_bytes()).as_deref(),
                *want,
                "{input:?}"
            );
        }
        assert_eq!(
            syntax_error(&[0xc3, 0xa9]).as_deref(),
            Some("invalid character 'Ã' looking for beginning of value")
        );
        assert_eq!(
            syntax_error(&[0x85]).as_deref(),
            Some("invalid character '\\u0085' looking for beginning of value")
        );
    }
}
