//! Paging rules shared by the `PageNumber`/`PageSize` actions.

/// A validated page request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// 1-based.
    pub number: i64,
    pub size: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PageError {
    #[error("PageNumber must be 0 or more")]
    Number,
    #[error("PageSize must be between 1 and {0}")]
    Size(i64),
}

impl Page {
    /// `PageNumber` 0 and 1 both mean the first page; `PageSize` must lie in `1..=max`.
    pub fn new(
        number: Option<i64>,
        size: Option<i64>,
        default_size: i64,
        max_size: i64,
    ) -> Result<Page, PageError> {
        let number = match number {
            None | Some(0) => 1,
            Some(n) if n < 0 => return Err(PageError::Number),
            Some(n) => n,
        };
        let size = size.unwrap_or(default_size);
        if !(1..=max_size).contains(&size) {
            return Err(PageError::Size(max_size));
        }
        Ok(Page { number, size })
    }

    /// Rows to skip; saturates rather than overflowing on absurd page numbers.
    pub fn offset(self) -> i64 {
        (self.number - 1).saturating_mul(self.size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn page_zero_and_one_are_the_first_page() {
        assert_eq!(
            Page::new(Some(0), None, 20, 100),
            Page::new(Some(1), None, 20, 100)
        );
        assert_eq!(Page::new(None, None, 20, 100).map(Page::offset), Ok(0));
        assert_eq!(
            Page::new(Some(3), Some(10), 20, 100).map(Page::offset),
            Ok(20)
        );
    }

    #[test]
    fn size_bounds_are_enforced() {
        assert_eq!(Page::new(None, Some(0), 20, 100), Err(PageError::Size(100)));
        assert_eq!(
            Page::new(None, Some(101), 20, 100),
            Err(PageError::Size(100))
        );
        assert_eq!(Page::new(Some(-1), None, 20, 100), Err(PageError::Number));
    }

    proptest! {
        #[test]
        fn offset_never_overflows(number in any::<i64>(), size in 1i64..=100) {
            if let Ok(page) = Page::new(Some(number), Some(size), 20, 100) {
                prop_assert!(page.offset() >= 0);
            }
        }
    }
}
