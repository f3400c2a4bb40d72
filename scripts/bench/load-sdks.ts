/**
 * The baseline: load every SDK the program imports, and the modules of them
 * it touches (they load lazily), without declaring any resource.
 */
import * as command from "@pulumi/command";
import * as github from "@pulumi/github";
import * as k8s from "@pulumi/kubernetes";
import * as openstack from "@pulumi/openstack";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import * as tls from "@pulumi/tls";
import * as yaml from "yaml";
import { z } from "zod";

const touched: unknown[] = [
  pulumi.ComponentResource,
  openstack.Provider,
  openstack.networking.SecGroupRule,
  openstack.networking.Port,
  openstack.compute.Instance,
  openstack.compute.ServerGroup,
  openstack.identity.Ec2CredentialV3,
  k8s.Provider,
  k8s.core.v1.Secret,
  k8s.rbac.v1.ClusterRole,
  k8s.helm.v3.Release,
  k8s.apiextensions.CustomResource,
  github.Provider,
  github.RepositoryRuleset,
  github.RepositoryEnvironment,
  tls.PrivateKey,
  tls.LocallySignedCert,
  random.RandomPassword,
  command.local.Command,
  yaml.stringify,
  z.object,
];
if (touched.some((t) => typeof t !== "function")) process.exit(1);
