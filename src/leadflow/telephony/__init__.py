"""Telephony: provider webhooks (Mango Office first, behind a provider interface) and the calls they report."""
