//! Typed addresses: `maas_machine.node["kvm4"]`, `module.net.brick_data.x[0]`, `var.nodes`.
