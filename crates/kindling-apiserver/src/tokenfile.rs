//! `--token-auth-file`: static bearer tokens from a CSV file, as upstream's tokenfile
//! authenticator reads it — `token,user,uid[,"group1,group2"]` per record, Go's CSV rules
//! (quoted fields, `""` for a quote, empty lines skipped, records of any length), at least three
//! columns, empty tokens skipped, a later duplicate winning — with its error messages. Pure: the
//! server reads the file and hands the text here.

use std::collections::HashMap;

/// A static token's user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StaticUser {
    pub name: String,
    pub uid: String,
    pub groups: Vec<String>,
}

/// The tokens of a token file.
#[derive(Clone, Debug, Default)]
pub struct StaticTokens {
    tokens: HashMap<String, StaticUser>,
}

impl StaticTokens {
    /// Parses the text of the file at `path` (named in errors).
    pub fn parse(path: &str, text: &str) -> Result<StaticTokens, String> {
        let mut tokens = HashMap::new();
        for record in read_csv(text).map_err(|e| e.to_string())? {
            if record.len() < 3 {
                return Err(format!(
                    "token file '{path}' must have at least 3 columns (token, user name, user uid), found {}",
                    record.len()
                ));
            }
            if record[0].is_empty() {
                tracing::warn!("empty token has been found in token file '{path}'");
                continue;
            }
            let user = StaticUser {
                name: record[1].clone(),
                uid: record[2].clone(),
                groups: record
                    .get(3)
                    .map(|g| g.split(',').map(str::to_string).collect())
                    .unwrap_or_default(),
            };
            if tokens.insert(record[0].clone(), user).is_some() {
                tracing::warn!("duplicate token has been found in token file '{path}'");
            }
        }
        Ok(StaticTokens { tokens })
    }

    pub fn get(&self, token: &str) -> Option<&StaticUser> {
        self.tokens.get(token)
    }
}

/// Go's `csv.ParseError`.
#[derive(Debug, PartialEq, Eq)]
struct CsvError {
    start_line: usize,
    line: usize,
    column: usize,
    what: &'static str,
}

const BARE_QUOTE: &str = "bare \" in non-quoted-field";
const QUOTE: &str = "extraneous or missing \" in quoted-field";

impl std::fmt::Display for CsvError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.start_line != self.line {
            write!(
                f,
                "record on line {}; parse error on line {}, column {}: {}",
                self.start_line, self.line, self.column, self.what
            )
        } else {
            write!(
                f,
                "parse error on line {}, column {}: {}",
                self.line, self.column, self.what
            )
        }
    }
}

/// Records as Go's `csv.Reader` (comma-separated, no comments, leading blanks kept) reads them.
fn read_csv(text: &str) -> Result<Vec<Vec<String>>, CsvError> {
    // Lines with their end normalized to `\n` (a last line without one gets it, which Go's
    // columns do not count).
    let unterminated = !text.is_empty() && !text.ends_with('\n');
    let lines: Vec<String> = text
        .split_inclusive('\n')
        .map(|l| {
            let body = l.strip_suffix('\n').unwrap_or(l);
            let body = body.strip_suffix('\r').unwrap_or(body);
            format!("{body}\n")
        })
        .collect();
    let mut records = Vec::new();
    let mut n = 0; // index of the next line to read
    while n < lines.len() {
        let start_line = n + 1;
        let mut line: &str = &lines[n];
        n += 1;
        if line == "\n" {
            continue;
        }
        let mut line_no = start_line;
        let mut col = 1;
        let mut fields = Vec::new();
        loop {
            if !line.starts_with('"') {
                let end = line.find(',');
                let field = match end {
                    Some(i) => &line[..i],
                    None => line.strip_suffix('\n').unwrap_or(line),
                };
                if let Some(j) = field.find('"') {
                    return Err(CsvError {
                        start_line,
                        line: line_no,
                        column: col + j,
                        what: BARE_QUOTE,
                    });
                }
                fields.push(field.to_string());
                match end {
                    Some(i) => {
                        line = &line[i + 1..];
                        col += i + 1;
                        continue;
                    }
                    None => break,
                }
            }
            // A quoted field, possibly over several lines.
            let mut field = String::new();
            line = &line[1..];
            col += 1;
            loop {
                if let Some(i) = line.find('"') {
                    field.push_str(&line[..i]);
                    line = &line[i + 1..];
                    col += i + 1;
                    if line.starts_with('"') {
                        field.push('"');
                        line = &line[1..];
                        col += 1;
                    } else if line.starts_with(',') {
                        line = &line[1..];
                        col += 1;
                        fields.push(std::mem::take(&mut field));
                        break;
                    } else if line == "\n" {
                        fields.push(std::mem::take(&mut field));
                        records.push(fields);
                        fields = Vec::new();
                        line = "";
                        break;
                    } else {
                        return Err(CsvError {
                            start_line,
                            line: line_no,
                            column: col - 1,
                            what: QUOTE,
                        });
                    }
                } else if n < lines.len() {
                    field.push_str(line);
                    line = &lines[n];
                    n += 1;
                    line_no += 1;
                    col = 1;
                } else {
                    // The file ends inside the quotes.
                    let counted = line.len() - usize::from(unterminated);
                    return Err(CsvError {
                        start_line,
                        line: line_no,
                        column: col + counted,
                        what: QUOTE,
                    });
                }
            }
            if line.is_empty() {
                break;
            }
        }
        if !fields.is_empty() {
            records.push(fields);
        }
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_as_go_reads_them() {
        let text =
            "t1,alice,u1,\"devs,ops\"\n\nt2,bob,u2\r\n\"t,3\",\"car\"\"ol\",u3,\"a\nb\"\nt4,dan,u4";
        assert_eq!(
            read_csv(text).unwrap(),
            vec![
                vec!["t1", "alice", "u1", "devs,ops"],
                vec!["t2", "bob", "u2"],
                vec!["t,3", "car\"ol", "u3", "a\nb"],
                vec!["t4", "dan", "u4"],
            ]
        );
        assert_eq!(read_csv(" a , b\n").unwrap(), vec![vec![" a ", " b"]]);
    }

    #[test]
    fn errors_are_gos() {
        let err = |t: &str| read_csv(t).unwrap_err().to_string();
        assert_eq!(
            err("a,b\nt,u\"x,v\n"),
            "parse error on line 2, column 4: bare \" in non-quoted-field"
        );
        assert_eq!(
            err("\"a\"b,c\n"),
            "parse error on line 1, column 3: extraneous or missing \" in quoted-field"
        );
        assert_eq!(
            err("\"a\n"),
            "parse error on line 1, column 4: extraneous or missing \" in quoted-field"
        );
        assert_eq!(
            err("x,\"a\nb"),
            "record on line 1; parse error on line 2, column 2: extraneous or missing \" in quoted-field"
        );
    }

    #[test]
    fn tokens_and_their_users() {
        let tokens = StaticTokens::parse(
            "/t.csv",
            "secret,alice,42,\"devs,ops\"\n,nobody,0\nother,bob,7\n",
        )
        .unwrap();
        assert_eq!(
            tokens.get("secret"),
            Some(&StaticUser {
                name: "alice".into(),
                uid: "42".into(),
                groups: vec!["devs".into(), "ops".into()],
            })
        );
        assert_eq!(tokens.get("other").unwrap().groups, Vec::<String>::new());
        assert!(tokens.get("").is_none());
        assert_eq!(
            StaticTokens::parse("/t.csv", "a,b\n").unwrap_err(),
            "token file '/t.csv' must have at least 3 columns (token, user name, user uid), found 2"
        );
    }
}
