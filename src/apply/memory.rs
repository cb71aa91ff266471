//! A [`StateSink`] that keeps state in memory: for tests, and as the in-memory model the CLI's
//! file-backed sink updates before it writes.

use super::{Recorded, StateSink};
use crate::plan::address::InstanceAddr;
use crate::plan::model::{Action, PriorInstance, PriorState};
use brick_provider_api::Value;

#[derive(Default, Debug, Clone)]
pub struct MemoryState {
    pub state: PriorState,
    /// Objects replaced under create-before-destroy whose destroy has not happened yet.
    pub deposed: Vec<(InstanceAddr, Recorded)>,
    /// Every intent, in order (for tests).
    pub intents: Vec<(InstanceAddr, Action, bool)>,
}

impl MemoryState {
    pub fn new(state: PriorState) -> MemoryState {
        MemoryState {
            state,
            ..Default::default()
        }
    }
}

impl StateSink for MemoryState {
    fn intent(
        &mut self,
        addr: &InstanceAddr,
        action: Action,
        destroying: bool,
        _planned: &Value,
    ) -> Result<(), String> {
        self.intents.push((addr.clone(), action, destroying));
        Ok(())
    }
    fn record(&mut self, addr: &InstanceAddr, state: Option<Recorded>) -> Result<(), String> {
        match state {
            None => {
                self.state.instances.remove(addr);
            }
            Some(r) => {
                // Under create-before-destroy the old object lives on as deposed until its
                // destroy step finishes.
                if r.create_before_destroy
                    && let Some(old) = self.state.instances.get(addr)
                    && old.value.get("id") != r.value.get("id")
                {
                    self.deposed.push((addr.clone(), to_recorded(old)));
                }
                self.state.instances.insert(
                    addr.clone(),
                    PriorInstance {
                        provider: r.provider,
                        value: r.value,
                        depends_on: r.depends_on,
                        tainted: r.tainted,
                        schema_version: r.schema_version,
                        create_before_destroy: r.create_before_destroy,
                    },
                );
            }
        }
        Ok(())
    }
    fn record_deposed(
        &mut self,
        addr: &InstanceAddr,
        state: Option<Recorded>,
    ) -> Result<(), String> {
        self.deposed.retain(|(a, _)| a != addr);
        if let Some(r) = state {
            self.deposed.push((addr.clone(), r));
        }
        Ok(())
    }
    fn record_output(&mut self, name: &str, value: Option<(Value, bool)>) -> Result<(), String> {
        match value {
            None => {
                self.state.outputs.remove(name);
            }
            Some(v) => {
                self.state.outputs.insert(name.to_string(), v);
            }
        }
        Ok(())
    }
    fn finish(&mut self) -> Result<(), String> {
        Ok(())
    }
}

fn to_recorded(i: &PriorInstance) -> Recorded {
    Recorded {
        provider: i.provider.clone(),
        value: i.value.clone(),
        depends_on: i.depends_on.clone(),
        schema_version: i.schema_version,
        tainted: i.tainted,
        create_before_destroy: i.create_before_destroy,
    }
}
