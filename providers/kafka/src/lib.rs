//! The Kafka provider: topics, through the admin API.
