//! Views render engine events and plans for people (text) or machines (JSON).
