use std::fmt;
use std::path::{Path, PathBuf};

/// One mistake in a project, pointing at the file (and line, where there is one) to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ProjectError {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub message: String,
}

impl ProjectError {
    pub fn new(file: impl Into<PathBuf>, line: Option<usize>, message: impl Into<String>) -> Self {
        Self {
            file: file.into(),
            line,
            message: message.into(),
        }
    }

    pub fn in_file(file: &Path, message: impl Into<String>) -> Self {
        Self::new(file, None, message)
    }
}

impl fmt::Display for ProjectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.file.display(), line, self.message),
            None => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

/// Every mistake found while loading a project, so a user fixes them in one go.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ProjectErrors(pub Vec<ProjectError>);

impl fmt::Display for ProjectErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.as_slice() {
            [one] => write!(f, "{one}"),
            many => {
                writeln!(f, "the project has {} errors:", many.len())?;
                for (i, e) in many.iter().enumerate() {
                    if i + 1 == many.len() {
                        write!(f, "  {e}")?;
                    } else {
                        writeln!(f, "  {e}")?;
                    }
                }
                Ok(())
            }
        }
    }
}

impl From<ProjectError> for ProjectErrors {
    fn from(e: ProjectError) -> Self {
        ProjectErrors(vec![e])
    }
}

/// 1-based line of a byte offset in `text`.
pub fn line_of_offset(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}
