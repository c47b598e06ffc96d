//! Boilerplate shared by the string-backed value types.
//!
//! Every value type follows the same shape: a private inner representation, a
//! validating `parse` constructor, and conversions (`FromStr`, `TryFrom<String>`,
//! `Into<String>`) that all funnel through `parse`, so that no code path, serde
//! included, can build an invalid value.

/// Implements the conversions, `Display` and `JsonSchema` of a newtype over a
/// `String` that has an inherent `parse(&str) -> Result<Self, $error>` method.
///
/// `$schema` is a `serde_json::Value` object merged into `{"type": "string"}`.
macro_rules! string_value {
    ($name:ident, $error:ty, $schema:expr) => {
        impl $name {
            /// The normalised text of the value.
            #[must_use]
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $error;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl TryFrom<String> for $name {
            type Error = $error;

            fn try_from(s: String) -> Result<Self, Self::Error> {
                Self::parse(&s)
            }
        }

        impl TryFrom<&str> for $name {
            type Error = $error;

            fn try_from(s: &str) -> Result<Self, Self::Error> {
                Self::parse(s)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> Self {
                value.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl ::schemars::JsonSchema for $name {
            fn inline_schema() -> bool {
                true
            }

            fn schema_name() -> ::std::borrow::Cow<'static, str> {
                stringify!($name).into()
            }

            fn json_schema(_: &mut ::schemars::SchemaGenerator) -> ::schemars::Schema {
                $crate::values::string_schema($schema)
            }
        }
    };
}

/// Declares a trimmed, non-empty, length-bounded free text without control
/// characters, sharing [`TextError`](crate::values::TextError).
macro_rules! bounded_text {
    ($(#[$meta:meta])* $name:ident, $max:expr) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, ::serde::Serialize, ::serde::Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// The maximum length, in characters.
            pub const MAX_CHARS: usize = $max;

            /// Trims the text and checks it is non-empty, at most
            /// [`Self::MAX_CHARS`] characters long and free of control characters.
            ///
            /// # Errors
            /// Returns a [`TextError`](crate::values::TextError) describing the first violated rule.
            pub fn parse(s: &str) -> Result<Self, $crate::values::TextError> {
                $crate::values::parse_bounded_text(s, 1, $max).map(Self)
            }
        }

        string_value!(
            $name,
            $crate::values::TextError,
            ::serde_json::json!({ "minLength": 1, "maxLength": $max })
        );
    };
}

/// Declares a closed set of values spelled as fixed strings in JSON, with
/// `as_str`, `Display`, `FromStr` and a derived JSON Schema (`enum` of strings).
macro_rules! string_enum {
    (
        $(#[$meta:meta])*
        $name:ident, $label:literal {
            $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash,
            ::serde::Serialize, ::serde::Deserialize, ::schemars::JsonSchema,
        )]
        pub enum $name {
            $(
                $(#[$vmeta])*
                #[serde(rename = $text)]
                $variant,
            )+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The JSON spelling of the value.
            #[must_use]
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::values::ParseEnumError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let trimmed = s.trim();
                $name::ALL
                    .iter()
                    .copied()
                    .find(|value| value.as_str() == trimmed)
                    .ok_or_else(|| $crate::values::ParseEnumError {
                        kind: $label,
                        value: s.to_owned(),
                    })
            }
        }
    };
}
