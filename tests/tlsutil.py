"""A certificate authority made for one test run, with openssl(1): a CA and
a server certificate it signed for 127.0.0.1 and localhost."""
import os
import subprocess


def make_ca(directory):
    """Writes ca.pem, server.pem and server.key into directory; returns
    (ca_file, cert_file, key_file)."""
    d = str(directory)
    ca_key, ca, key = os.path.join(d, "ca.key"), os.path.join(d, "ca.pem"), os.path.join(d, "server.key")
    csr, cert, ext = os.path.join(d, "server.csr"), os.path.join(d, "server.pem"), os.path.join(d, "ext.cnf")

    def openssl(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-out", ca,
            "-days", "2", "-subj", "/CN=mixpeekfs test CA")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr,
            "-subj", "/CN=127.0.0.1")
    with open(ext, "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"
                "extendedKeyUsage=serverAuth\n")
    openssl("x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
            "-out", cert, "-days", "2", "-extfile", ext)
    return ca, cert, key
