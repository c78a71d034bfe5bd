"""The client protocol: code generated from protocol/imcloud.proto (``make proto``) and its codec."""
