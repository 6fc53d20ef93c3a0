"""IAM: users, their access keys and inline policies; the identity side of decisions."""
