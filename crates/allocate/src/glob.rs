//! Shell-style globs for rule matching: `*` any run of characters, `?` one character.

pub fn glob_match(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((star_p, star_t)) = star {
            pi = star_p + 1;
            ti = star_t + 1;
            star = Some((star_p, star_t + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_like_a_shell() {
        assert!(glob_match("eu-*", "eu-west-1"));
        assert!(glob_match("*Request*", "USE1-ApiGatewayHttpRequest"));
        assert!(glob_match("pro?", "prod"));
        assert!(glob_match("*", ""));
        assert!(glob_match("$default", "$default"));
        assert!(!glob_match("eu-*", "us-east-1"));
        assert!(!glob_match("prod", "prod2"));
        assert!(!glob_match("a*b", "acbx"));
    }
}
