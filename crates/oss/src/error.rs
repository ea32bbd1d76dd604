//! OSS's error answer: an HTTP status and an XML body naming a code, as OSS words it.

use quick_xml::escape::escape;

/// A refusal in OSS's terms. The message never holds a secret: what a caller signed is
/// described, not quoted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct OssError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
    /// OSS's detailed error code (`x-oss-ec`), where OSS documents one for the case.
    pub ec: Option<&'static str>,
}

impl OssError {
    fn new(status: u16, code: &'static str, message: impl Into<String>) -> OssError {
        OssError {
            status,
            code,
            message: message.into(),
            ec: None,
        }
    }

    fn with_ec(mut self, ec: &'static str) -> OssError {
        self.ec = Some(ec);
        self
    }

    pub fn access_denied(message: impl Into<String>) -> OssError {
        OssError::new(403, "AccessDenied", message)
    }

    pub fn anonymous() -> OssError {
        OssError::access_denied("AccessDenied: Anonymous access is forbidden for this operation.")
    }

    pub fn invalid_access_key_id() -> OssError {
        OssError::new(
            403,
            "InvalidAccessKeyId",
            "The OSS Access Key Id you provided does not exist in our records.",
        )
        .with_ec("0002-00000002")
    }

    pub fn invalid_security_token() -> OssError {
        OssError::new(
            403,
            "InvalidAccessKeyId",
            "The security token you provided is invalid.",
        )
        .with_ec("0002-00000006")
    }

    pub fn security_token_expired() -> OssError {
        OssError::new(
            403,
            "SecurityTokenExpired",
            "The security token you provided has expired.",
        )
        .with_ec("0002-00000007")
    }

    pub fn signature_does_not_match() -> OssError {
        OssError::new(
            403,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. \
             Check your key and signing method.",
        )
    }

    pub fn time_too_skewed() -> OssError {
        OssError::new(
            403,
            "RequestTimeTooSkewed",
            "The difference between the request time and the current time is too large.",
        )
    }

    pub fn invalid_argument(message: impl Into<String>) -> OssError {
        OssError::new(400, "InvalidArgument", message)
    }

    pub fn invalid_object_name() -> OssError {
        OssError::new(
            400,
            "InvalidObjectName",
            "The specified object is not valid.",
        )
    }

    pub fn entity_too_large(max_bytes: u64) -> OssError {
        OssError::new(
            400,
            "EntityTooLarge",
            format!("Your proposed upload exceeds the maximum allowed size of {max_bytes} bytes."),
        )
    }

    pub fn incomplete_body() -> OssError {
        OssError::new(
            400,
            "IncompleteBody",
            "You did not provide the number of bytes specified by the Content-Length HTTP header.",
        )
    }

    pub fn invalid_digest(what: &str) -> OssError {
        OssError::new(
            400,
            "InvalidDigest",
            format!("The {what} you specified does not match what was received."),
        )
    }

    pub fn request_timeout() -> OssError {
        OssError::new(
            400,
            "RequestTimeout",
            "Your socket connection to the server was not read from or written to within the \
             timeout period.",
        )
    }

    pub fn no_such_bucket(bucket: &str) -> OssError {
        OssError::new(
            404,
            "NoSuchBucket",
            format!("The specified bucket does not exist: {bucket}."),
        )
    }

    pub fn no_such_key() -> OssError {
        OssError::new(404, "NoSuchKey", "The specified key does not exist.")
    }

    pub fn no_such_upload() -> OssError {
        OssError::new(
            404,
            "NoSuchUpload",
            "The specified upload does not exist. The upload ID may be invalid, or the upload \
             may have been aborted or completed.",
        )
    }

    pub fn invalid_part(message: impl Into<String>) -> OssError {
        OssError::new(400, "InvalidPart", message)
    }

    pub fn invalid_part_order() -> OssError {
        OssError::new(
            400,
            "InvalidPartOrder",
            "The list of parts was not in ascending order. The parts list must be specified in \
             order by part number.",
        )
    }

    pub fn malformed_xml() -> OssError {
        OssError::new(
            400,
            "MalformedXML",
            "The XML you provided was not well-formed or did not validate against our published schema.",
        )
    }

    pub fn method_not_allowed() -> OssError {
        OssError::new(
            405,
            "MethodNotAllowed",
            "The specified method is not allowed against this resource.",
        )
    }

    pub fn not_implemented(what: &str) -> OssError {
        OssError::new(
            501,
            "NotImplemented",
            format!("{what} is not implemented by this endpoint."),
        )
    }

    pub fn service_unavailable() -> OssError {
        OssError::new(
            503,
            "ServiceUnavailable",
            "Please reduce your request rate.",
        )
    }

    pub fn internal_error() -> OssError {
        OssError::new(
            500,
            "InternalError",
            "We encountered an internal error. Please try again.",
        )
    }

    /// The XML body OSS answers with.
    pub fn to_xml(&self, request_id: &str, host_id: &str) -> String {
        let ec = self
            .ec
            .map(|ec| format!("  <EC>{ec}</EC>\n"))
            .unwrap_or_default();
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error>\n  <Code>{}</Code>\n  \
             <Message>{}</Message>\n  <RequestId>{}</RequestId>\n  <HostId>{}</HostId>\n{ec}</Error>\n",
            self.code,
            escape(self.message.as_str()),
            escape(request_id),
            escape(host_id),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_is_osss_xml_and_escapes_what_it_quotes() {
        let xml = OssError::no_such_bucket("<b&>").to_xml("RID", "host");
        assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error>"));
        assert!(xml.contains("<Code>NoSuchBucket</Code>"));
        assert!(xml.contains("&lt;b&amp;&gt;"));
        assert!(xml.contains("<RequestId>RID</RequestId>"));
        let expired = OssError::security_token_expired().to_xml("r", "h");
        assert!(expired.contains("<EC>0002-00000007</EC>"));
    }
}
