// The teams, roles and departments the caller may see, for filters and pickers. Loaded
// once per screen; a caller without the permission to list one of them gets an empty list.
import { graphql } from "../gql";
import type { ChoicesQuery } from "../gql/graphql";
import { request } from "./api";
import { useLoad } from "./common";

const ChoicesDocument = graphql(`
  query Choices {
    teams(first: 100) { nodes { id name department { id name } } }
    departments(first: 100) { nodes { id name } }
    roles { id key name scope permissions builtIn }
  }
`);

export type Choices = {
  teams: ChoicesQuery["teams"]["nodes"];
  departments: ChoicesQuery["departments"]["nodes"];
  roles: ChoicesQuery["roles"];
  reload: () => void;
};

export function useChoices(): Choices {
  const loaded = useLoad(() => request(ChoicesDocument), []);
  return {
    teams: loaded.data?.teams.nodes ?? [],
    departments: loaded.data?.departments.nodes ?? [],
    roles: loaded.data?.roles ?? [],
    reload: loaded.reload,
  };
}
