//! The MAAS provider: machines deployed from bare metal, and a simulator of the MAAS 2.0 API.
