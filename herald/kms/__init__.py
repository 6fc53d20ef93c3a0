"""The key service: customer master keys, key policies, envelope encryption (AWS KMS)."""
