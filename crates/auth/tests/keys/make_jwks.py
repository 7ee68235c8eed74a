#!/usr/bin/env python3
"""Derive the public JWK of each fixture key (TEST KEYS ONLY, not secrets).

Run from this directory after regenerating the PEM files with openssl:
    python3 make_jwks.py
Writes <kid>.jwk.json next to <kid>.pem.
"""
import base64, json, re, subprocess


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def openssl(*args: str) -> bytes:
    return subprocess.run(["openssl", *args], check=True, capture_output=True).stdout


def rsa_jwk(kid: str) -> dict:
    text = openssl("rsa", "-in", f"{kid}.pem", "-noout", "-modulus").decode()
    n = bytes.fromhex(re.search(r"Modulus=([0-9A-F]+)", text).group(1))
    e = (65537).to_bytes(3, "big")
    return {"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid, "n": b64u(n), "e": b64u(e)}


def ec_jwk(kid: str) -> dict:
    der = openssl("pkey", "-in", f"{kid}.pem", "-pubout", "-outform", "DER")
    point = der[-65:]
    assert point[0] == 4, "uncompressed point expected"
    return {"kty": "EC", "use": "sig", "alg": "ES256", "crv": "P-256", "kid": kid,
            "x": b64u(point[1:33]), "y": b64u(point[33:])}


def ed_jwk(kid: str) -> dict:
    der = openssl("pkey", "-in", f"{kid}.pem", "-pubout", "-outform", "DER")
    return {"kty": "OKP", "use": "sig", "alg": "EdDSA", "crv": "Ed25519", "kid": kid,
            "x": b64u(der[-32:])}


for kid, make in [("rsa-1", rsa_jwk), ("rsa-2", rsa_jwk), ("ec-1", ec_jwk), ("ed-1", ed_jwk)]:
    with open(f"{kid}.jwk.json", "w") as f:
        json.dump(make(kid), f, indent=2)
        f.write("\n")
