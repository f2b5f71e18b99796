# Stand-in for public.ecr.aws/glue/aws-glue-libs:glue_libs_4.0.0_image_01: Apache Spark 3.3.0 (PyPI's pyspark, as
# Glue 4.0 runs) on Python 3.10 (as Glue 4.0) with bookworm's OpenJDK 17 (Glue 4.0 has Java 8), and the s3a jars
# (hadoop-aws 3.3.1, AWS SDK bundle) from PyPI's sagemaker-pyspark. It has none of AWS's `awsglue` libraries; the
# job does not use them. Like AWS's image it runs as glue_user, uid 10000, group root.
# Python 3.10: bookworm has none and uv cannot download one offline, so build-images.sh imports an installed one
# (pyenv's by default) as the image ECOM_PYTHON310_IMAGE, a bare file tree copied from here.
ARG ECOM_DEBIAN_IMAGE=ecom-offline/debian:bookworm
ARG ECOM_PYTHON310_IMAGE=ecom-offline/python310-dist:3.10
FROM ${ECOM_PYTHON310_IMAGE} AS python310

FROM ${ECOM_DEBIAN_IMAGE}

# Java for Spark; procps gives Spark's scripts `ps`; the man1 folder must exist for the JRE's install step.
RUN mkdir -p /usr/share/man/man1 \
    && apt-get update \
    && apt-get install -y --no-install-recommends openjdk-17-jre-headless procps ca-certificates \
    && rm -rf /var/lib/apt/lists/*

COPY --from=python310 / /opt/python3.10
ARG PYSPARK_VERSION=3.3.0
# pyspark goes into that Python itself (no venv): `python3` must find it from compose's login shell too, whose
# /etc/profile resets PATH to /usr/local/bin:/usr/bin:/bin.
RUN --mount=type=secret,id=ca_bundle \
    if [ -s /run/secrets/ca_bundle ]; then export PIP_CERT=/run/secrets/ca_bundle; fi \
    && echo /opt/python3.10/lib >/etc/ld.so.conf.d/python3.10.conf && ldconfig \
    && ln -s /opt/python3.10/bin/python3.10 /usr/local/bin/python3 \
    && ln -s /opt/python3.10/bin/python3.10 /usr/local/bin/python \
    && python3 -c 'import sys; assert sys.version_info[:2] == (3, 10), sys.version' \
    && python3 -m ensurepip && python3 -m pip install --no-cache-dir "pyspark==${PYSPARK_VERSION}" \
    && python3 -m pip install --no-cache-dir --no-deps sagemaker-pyspark==1.4.5 \
    && useradd --uid 10000 --gid 0 --create-home --home-dir /home/glue_user glue_user

ENV SPARK_HOME=/opt/python3.10/lib/python3.10/site-packages/pyspark \
    JAVA_HOME=/usr/lib/jvm/java-17-openjdk-amd64 \
    PYSPARK_PYTHON=/usr/local/bin/python3 \
    JOB_RUNNER_SPARK_JARS=/opt/python3.10/lib/python3.10/site-packages/sagemaker_pyspark/jars/hadoop-aws-3.3.1.jar,/opt/python3.10/lib/python3.10/site-packages/sagemaker_pyspark/jars/aws-java-sdk-bundle-1.11.901.jar
RUN IFS=, && for jar in $JOB_RUNNER_SPARK_JARS; do test -f "$jar"; done
USER 10000:0
WORKDIR /home/glue_user
CMD ["bash"]
