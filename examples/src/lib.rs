//! Examples live in `examples/examples/`; this library is empty on purpose.
