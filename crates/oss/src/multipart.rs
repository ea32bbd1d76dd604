//! The XML documents of a multipart upload: the part list a client completes with, and the
//! answers to initiate and complete.

use quick_xml::escape::escape;
use serde::Deserialize;

use crate::OssError;

/// Most parts an upload may have (OSS's limit).
pub const MAX_PARTS: u32 = 10_000;

/// A part as `CompleteMultipartUpload` names it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CompletedPart {
    #[serde(rename = "PartNumber")]
    pub number: u32,
    #[serde(rename = "ETag")]
    pub etag: String,
}

#[derive(Debug, Deserialize)]
struct CompleteMultipartUpload {
    #[serde(rename = "Part", default)]
    parts: Vec<CompletedPart>,
}

/// The parts of a `CompleteMultipartUpload` body, checked: at least one, numbers 1..=10000 in
/// strictly ascending order. ETags are given back unquoted and uppercase.
pub fn parse_complete(body: &[u8]) -> Result<Vec<CompletedPart>, OssError> {
    let text = std::str::from_utf8(body).map_err(|_| OssError::malformed_xml())?;
    let doc: CompleteMultipartUpload =
        quick_xml::de::from_str(text).map_err(|_| OssError::malformed_xml())?;
    if doc.parts.is_empty() {
        return Err(OssError::malformed_xml());
    }
    let mut last = 0;
    let mut parts = Vec::with_capacity(doc.parts.len());
    for part in doc.parts {
        if part.number == 0 || part.number > MAX_PARTS {
            return Err(OssError::invalid_argument(
                "Part number must be an integer between 1 and 10000, inclusive.",
            ));
        }
        if part.number <= last {
            return Err(OssError::invalid_part_order());
        }
        last = part.number;
        parts.push(CompletedPart {
            number: part.number,
            etag: normalise_etag(&part.etag),
        });
    }
    Ok(parts)
}

/// An ETag as compared: without quotes or surrounding space, uppercase.
pub fn normalise_etag(etag: &str) -> String {
    etag.trim().trim_matches('"').to_ascii_uppercase()
}

pub fn initiate_result(bucket: &str, key: &str, upload_id: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<InitiateMultipartUploadResult>\n  \
         <Bucket>{}</Bucket>\n  <Key>{}</Key>\n  <UploadId>{}</UploadId>\n</InitiateMultipartUploadResult>\n",
        escape(bucket),
        escape(key),
        escape(upload_id)
    )
}

pub fn complete_result(location: &str, bucket: &str, key: &str, etag: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CompleteMultipartUploadResult>\n  \
         <Location>{}</Location>\n  <Bucket>{}</Bucket>\n  <Key>{}</Key>\n  <ETag>{}</ETag>\n\
         </CompleteMultipartUploadResult>\n",
        escape(location),
        escape(bucket),
        escape(key),
        escape(etag)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_part_list_parses_in_order_and_refuses_disorder() -> Result<(), OssError> {
        let body =
            b"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>\"ab\"</ETag></Part>\
            <Part><PartNumber>3</PartNumber><ETag>CD</ETag></Part></CompleteMultipartUpload>";
        let parts = parse_complete(body)?;
        assert_eq!(
            parts,
            vec![
                CompletedPart {
                    number: 1,
                    etag: "AB".into()
                },
                CompletedPart {
                    number: 3,
                    etag: "CD".into()
                }
            ]
        );
        let disorder =
            b"<CompleteMultipartUpload><Part><PartNumber>2</PartNumber><ETag>a</ETag></Part>\
            <Part><PartNumber>1</PartNumber><ETag>b</ETag></Part></CompleteMultipartUpload>";
        assert_eq!(
            parse_complete(disorder).map_err(|e| e.code),
            Err("InvalidPartOrder")
        );
        for bad in [&b""[..], b"<x>", b"<CompleteMultipartUpload/>", b"\xff"] {
            assert_eq!(parse_complete(bad).map_err(|e| e.code), Err("MalformedXML"));
        }
        let zero = b"<CompleteMultipartUpload><Part><PartNumber>0</PartNumber><ETag>a</ETag></Part></CompleteMultipartUpload>";
        assert_eq!(
            parse_complete(zero).map_err(|e| e.code),
            Err("InvalidArgument")
        );
        Ok(())
    }

    #[test]
    fn answers_escape_what_they_quote() {
        let xml = initiate_result("b", "a&b<.zip", "U1");
        assert!(xml.contains("<Key>a&amp;b&lt;.zip</Key>"));
        assert!(xml.contains("<UploadId>U1</UploadId>"));
    }
}
