"""mesopress: a Mesos framework that runs WordPress on MariaDB Galera with persistent volumes."""

from setuptools import find_packages, setup

setup(
    name="mesopress",
    version="0.1.0",
    description="Stateful WordPress on MariaDB Galera for Apache Mesos, plus a local Mesos-compatible cluster",
    package_dir={"": "framework"},
    packages=find_packages("framework"),
    package_data={"mesopress": ["http/static/*"]},
    python_requires=">=3.11",
    install_requires=[
        "pymesos==0.3.15",
        "kazoo==2.11.0",
        "addict==2.4.0",
        "six==1.17.0",
        "PyMySQL==1.2.4",
        "PyYAML==6.0.4",
    ],
    entry_points={
        "console_scripts": [
            "mesopress=mesopress.cli:main",
            "localmesos=localmesos.__main__:main",
        ]
    },
)
