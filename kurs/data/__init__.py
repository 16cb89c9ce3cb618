"""Files shipped with kurs.

``AmazonRootCA1.pem``: Amazon Trust Services' public root certificate "Amazon Root CA 1",
which signs AWS IoT Core's ATS endpoints (devices verify the server with it). Checked against
the SHA-256 hash of its public key that Amazon publishes (see kurs.provision.AWS_ROOT_CA_SPKI_SHA256).
"""
