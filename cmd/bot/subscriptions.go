package main

import (
	"github.com/aksbot/aksbot/internal/aks"
	"github.com/aksbot/aksbot/internal/azure/sim"
	"github.com/aksbot/aksbot/internal/config"
)

// subscriptionsOf returns the subscriptions commands may name: the configured ones, or on the
// simulated cloud its two, dev (the default) and prod.
func subscriptionsOf(cfg config.Config) aks.Subscriptions {
	if cfg.Simulated() {
		return aks.NewSubscriptions(sim.Subscriptions, sim.DefaultSubscription)
	}
	return cfg.Subscriptions
}

// defaultSubscription is the subscription that jobs stored before subscriptions were named
// belong to, for the tools that open a data file beside the bot (exports, store migrate): the
// configured default, or "" when the configuration cannot be read (the file's jobs then keep
// their targets; the bot puts them in the default when it opens an older file first).
func defaultSubscription(getenv func(string) string) string {
	cfg, err := config.Load(getenv)
	if err != nil {
		return ""
	}
	return subscriptionsOf(cfg).Default
}
