//! The dependency graph of a configuration: building it from references and `depends_on`,
//! and walking it.
