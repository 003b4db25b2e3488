"""Conversion forwarding: first-party conversions sent server-side to ad platforms.

config    destinations and event mappings
payloads  the SQL that turns events, orders and CRM stage changes into platform payloads
queue     enqueueing conversions (consent enforced, duplicates impossible)
deliver   batching, sending with retries, dead letters, the delivery log
quality   per-destination log and match-quality figures
"""
