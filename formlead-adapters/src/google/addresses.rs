//! Address lists of RFC 5322 headers (`To`, `Cc`, `Bcc`), as Gmail returns
//! them: `Name <a@b.example>, "Doe, J" <c@d.example>, e@f.example`.

/// The bare addresses of an address-list header, in order.
pub fn parse_list(header: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let (mut quoted, mut angle, mut comment) = (false, false, 0u32);
    let mut chars = header.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' if quoted => {
                current.push(c);
                if let Some(next) = chars.next() {
                    current.push(next);
                }
                continue;
            }
            '"' if comment == 0 => quoted = !quoted,
            '(' if !quoted => comment += 1,
            ')' if !quoted && comment > 0 => comment -= 1,
            '<' if !quoted && comment == 0 => angle = true,
            '>' if !quoted && comment == 0 => angle = false,
            ',' | ';' if !quoted && !angle && comment == 0 => {
                out.extend(address_of(&current));
                current.clear();
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    out.extend(address_of(&current));
    out
}

/// The address of one mailbox: inside `<…>` when present, else the text
/// without comments (and without a group's `Name:` label).
fn address_of(mailbox: &str) -> Option<String> {
    let mailbox = mailbox.trim();
    if let (Some(open), Some(close)) = (mailbox.rfind('<'), mailbox.rfind('>'))
        && open < close
    {
        let inner = mailbox[open + 1..close].trim();
        return (!inner.is_empty()).then(|| inner.to_owned());
    }
    let mut bare = String::new();
    let mut depth = 0u32;
    for c in mailbox.chars() {
        match c {
            '(' => depth += 1,
            ')' if depth > 0 => depth -= 1,
            _ if depth == 0 => bare.push(c),
            _ => {}
        }
    }
    // "Group: a@b" — the label ends at a colon before the address.
    let bare = match bare.rsplit_once(':') {
        Some((_, after)) if !after.contains('"') => after,
        _ => &bare,
    };
    let bare = bare.trim().trim_matches('"').trim();
    (!bare.is_empty()).then(|| bare.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_lists() {
        assert_eq!(
            parse_list(
                r#"Ann <ann@acme.example>, "Doe, John" <john@acme.example>, eve@evil.example"#
            ),
            ["ann@acme.example", "john@acme.example", "eve@evil.example"]
        );
        assert_eq!(parse_list("a@b.example (work), "), ["a@b.example"]);
        assert_eq!(
            parse_list("Team: x@acme.example, y@acme.example;"),
            ["x@acme.example", "y@acme.example"]
        );
        assert_eq!(
            parse_list(r#""Mallory \"<x>\"" <m@evil.example>"#),
            ["m@evil.example"]
        );
        assert!(parse_list("").is_empty());
        assert!(parse_list(" , ").is_empty());
    }
}
