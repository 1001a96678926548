"""Tests of the sandbox: the local Stripe and HubSpot stand-ins served over loopback HTTP."""

import requests

STRIPE_KEY = "sk_test_sandbox_demo"
HUBSPOT_TOKEN = "pat-sandbox-demo"


def stripe_session():
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {STRIPE_KEY}"
    return session


def hubspot_session():
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {HUBSPOT_TOKEN}"
    return session
