"""Conversion forwarding: first-party conversions sent server-side to ad platforms.

config        destinations and event mappings
destinations  one class per platform: payload SQL, request, batch size, age limit, errors (a registry)
payloads      the SQL of the conversions (events, orders, CRM stage changes) payloads are made from
queue         enqueueing conversions (consent enforced, duplicates impossible)
deliver       batching, sending with retries, dead letters, the delivery log
quality       per-destination log and match-quality figures
"""
