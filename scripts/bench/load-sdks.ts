/**
 * The baseline: load the SDKs the program uses, and the modules of them it
 * touches (they load lazily), without declaring any resource.
 */
import * as k8s from "@pulumi/kubernetes";
import * as openstack from "@pulumi/openstack";
import * as pulumi from "@pulumi/pulumi";

const touched = [pulumi.ComponentResource, openstack.Provider, openstack.networking.SecGroupRule, openstack.compute.Instance, k8s.Provider];
if (touched.some((t) => typeof t !== "function")) process.exit(1);
