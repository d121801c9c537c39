//! `s3://bucket/prefix` parsing.

use crate::SourceError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Location {
    pub bucket: String,
    /// A folder prefix: empty, or ending in `/`.
    pub prefix: String,
}

impl S3Location {
    pub fn parse(text: &str) -> Result<Self, SourceError> {
        let bad = || SourceError::BadLocation(text.to_owned());
        let rest = text.strip_prefix("s3://").ok_or_else(bad)?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let valid_bucket = (3..=63).contains(&bucket.len())
            && bucket.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
        if !valid_bucket {
            return Err(bad());
        }
        let prefix = prefix.trim_matches('/');
        let prefix = if prefix.is_empty() { String::new() } else { format!("{prefix}/") };
        Ok(S3Location { bucket: bucket.to_owned(), prefix })
    }

    /// The bucket key of an object named relative to the prefix.
    pub fn key(&self, relative: &str) -> String {
        format!("{}{relative}", self.prefix)
    }

    pub fn url(&self, relative: &str) -> String {
        format!("s3://{}/{}{relative}", self.bucket, self.prefix)
    }
}

impl std::fmt::Display for S3Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.prefix.trim_end_matches('/'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bucket_and_folder_prefix() {
        let loc = S3Location::parse("s3://my-billing/cur/").unwrap();
        assert_eq!((loc.bucket.as_str(), loc.prefix.as_str()), ("my-billing", "cur/"));
        assert_eq!(loc.url("a/b.csv.gz"), "s3://my-billing/cur/a/b.csv.gz");
        assert_eq!(S3Location::parse("s3://my-billing").unwrap().prefix, "");
        assert_eq!(loc.to_string(), "s3://my-billing/cur");
        for bad in ["s3://", "s3://UPPER/x", "http://b/x", "s3://ab"] {
            assert!(S3Location::parse(bad).is_err(), "{bad}");
        }
    }
}
