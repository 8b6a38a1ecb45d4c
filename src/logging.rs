//! Log set-up: `tracing` lines in Lambda's advanced-logging conventions (`AWS_LAMBDA_LOG_FORMAT`
//! JSON or text, level from `AWS_LAMBDA_LOG_LEVEL`, else `RUST_LOG`, else INFO), as
//! `lambda_runtime` implements them. The function logs to stdout, the local runner to stderr so
//! that its stdout holds only the answer.
//!
//! Every log event stays on one line. Lambda's text format writes field values as they are, and
//! values from the event (RequestId, LogicalResourceId, PhysicalResourceId, IVS's messages in a
//! Reason) are anybody's: a line break in one would start a forged log line, or a forged EMF
//! record that CloudWatch turns into metrics. Control characters are escaped instead, at the
//! writer, so that no field can be forgotten.

use lambda_runtime::tracing::subscriber::fmt::MakeWriter;
use std::io::{self, Write};

/// Installs the global `tracing` subscriber, sending log lines to `writer`; call once at start-up.
pub fn init<W>(writer: W)
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    lambda_runtime::tracing::init_default_subscriber_with_writer(OneLine(writer));
}

/// Makes writers that keep each log event on one line.
#[derive(Debug)]
pub struct OneLine<M>(pub M);

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for OneLine<M> {
    type Writer = OneLineWriter<M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        OneLineWriter(self.0.make_writer())
    }
}

/// Writes one formatted log event (`tracing-subscriber` hands over a whole event, its final
/// line break included, in one write) with the control characters inside it escaped.
#[derive(Debug)]
pub struct OneLineWriter<W>(W);

/// Characters that end a line for some reader of the logs.
fn breaks_lines(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}')
}

impl<W: Write> Write for OneLineWriter<W> {
    fn write(&mut self, event: &[u8]) -> io::Result<usize> {
        let (line, end): (&[u8], &[u8]) = match event.strip_suffix(b"\n") {
            Some(line) => (line, b"\n"),
            None => (event, b""),
        };
        let text = String::from_utf8_lossy(line);
        if !text.chars().any(breaks_lines) {
            self.0.write_all(event)?;
            return Ok(event.len());
        }
        let escaped: String = text
            .chars()
            .flat_map(|c| {
                let escape = breaks_lines(c).then(|| c.escape_default());
                let plain = (!breaks_lines(c)).then_some(c);
                escape.into_iter().flatten().chain(plain)
            })
            .collect();
        self.0.write_all(escaped.as_bytes())?;
        self.0.write_all(end)?;
        Ok(event.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(event: &str) -> String {
        let mut out = Vec::new();
        let n = OneLineWriter(&mut out).write(event.as_bytes()).unwrap();
        assert_eq!(n, event.len());
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn an_event_with_line_breaks_stays_on_one_line() {
        let forged = "INFO request_id=r1\n{\"_aws\":{}}\r\u{2028}\u{1b}[31m end\n";
        let out = written(forged);
        assert_eq!(
            out,
            "INFO request_id=r1\\n{\"_aws\":{}}\\r\\u{2028}\\u{1b}[31m end\n"
        );
        assert_eq!(out.lines().count(), 1);
        assert_eq!(written("plain ünïcode line\n"), "plain ünïcode line\n");
    }
}
