return json.encode(agent.args)
